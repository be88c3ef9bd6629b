"""Providers: the plug-in contract, the registry and the built-in providers."""

from .base import Provider, ProviderContext, validate_provider
from .model import ModelProvider

__all__ = ["ModelProvider", "Provider", "ProviderContext", "validate_provider"]
