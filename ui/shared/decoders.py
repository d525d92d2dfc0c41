"""The session's model as ONNX for the browser components (ui.services.decoders.browser_export, given the session's
model, weights digest, the app's exports folder (AppConfig.exports_dir: the cache folder unless
VAE_EXPLORER_ONNX_CACHE names another) and class)."""

from __future__ import annotations

import streamlit as st

from explorer.onnx.export import CachedExport
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.services.decoders import browser_export


def live_decoder(ctx: Ctx, condition: int | None = None) -> tuple[CachedExport | None, str]:
    """The model's decoder for the page; a conditional model's under class `condition` (default: the sidebar's)."""
    c = (ctx.condition if condition is None else int(condition)) if ctx.condition_classes else None
    limit = int(st.get_option("server.maxMessageSize")) * 2**20
    return browser_export(ctx.base_model, "decoder", ctx.weights_digest(), app_config().exports_dir(), c, limit)


def live_encoder(ctx: Ctx, condition: int | None = None) -> tuple[CachedExport | None, str]:
    """The model's encoder for the page; a conditional model's under class `condition` when given."""
    c = int(condition) if ctx.condition_classes and condition is not None else None
    limit = int(st.get_option("server.maxMessageSize")) * 2**20
    return browser_export(ctx.base_model, "encoder", ctx.weights_digest(), app_config().exports_dir(), c, limit)


def live_indices_decoder(ctx: Ctx) -> tuple[CachedExport | None, str]:
    """A discrete model's decode from code indices for the page (the codebook panel's grid editor)."""
    limit = int(st.get_option("server.maxMessageSize")) * 2**20
    return browser_export(ctx.base_model, "indices", ctx.weights_digest(), app_config().cache_dir, None, limit)


__all__ = ["live_decoder", "live_encoder", "live_indices_decoder"]
