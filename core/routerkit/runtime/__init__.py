"""onnxruntime sessions and the text encoder."""

from routerkit.runtime.encoder import Encoder
from routerkit.runtime.session import Device, available_providers, create_session

__all__ = ["Device", "Encoder", "available_providers", "create_session"]
