"""Providers: the plug-in contract, the registry and the built-in providers."""

from .base import Provider, ProviderContext, validate_provider

__all__ = ["Provider", "ProviderContext", "validate_provider"]
