"""Trainers (torch) and ONNX export. Needs the `train` extra; the runtime never imports this package.

Import `routerkit.train.mf` for the matrix-factorisation trainer; without torch it raises
`MissingDependencyError` quoting `pip install "routerkit-core[train]"`.
"""
