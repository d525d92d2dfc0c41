"""VAEGANConfig: the conv family's encoder and decoder, the discriminator's layers, the layer l whose features
carry the reconstruction likelihood, the paper's weighting gamma, and the form of the decoder's GAN term."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from explorer.models.base import VAEConfig
from explorer.models.blocks.layers import ACTIVATIONS

GENERATOR_LOSSES = ("non_saturating", "minimax")


def _help(default: Any, text: str, **extra: Any) -> Any:
    """A dataclass field with its default and its help text."""
    return field(default=default, metadata={"help": text, **extra})


@dataclass
class VAEGANConfig(VAEConfig):
    # the pixel likelihood is never trained (no pixel term in any loss): its scale stays fixed
    ignored_fields: ClassVar[tuple[str, ...]] = ("learn_scale",)

    likelihood: str = _help("gaussian", "gaussian only: real images reach the discriminator dequantised "
                                        "(continuous), as its fakes are; binarised reals would give them away",
                            choices=("gaussian",))
    learn_scale: bool = _help(False, "fixed (the pixel likelihood is not trained)")
    # encoder and decoder: the conv family's (explorer.models.conv)
    channels: tuple[int, ...] = _help((32, 64, 128), "conv widths, e.g. 32,64,128; each layer halves the spatial size")
    hidden_dim: int = _help(256, "width of the fully connected layer between the conv features and the code (0: none)")
    batch_norm: bool = _help(False, "batch norm after each conv (not after the output layer)")
    activation: str = _help("relu", "nonlinearity after each layer", choices=tuple(sorted(ACTIVATIONS)))
    # the discriminator
    dis_channels: tuple[int, ...] = _help((32, 64, 128), "discriminator conv widths (stride 2 each, leaky "
                                                         "ReLU), e.g. 32,64,128")
    dis_hidden: int = _help(128, "width of the discriminator's fully connected layer after its convs (0: none)")
    feature_layer: int = _help(0, "the discriminator conv layer l (1-based) whose output features Dis_l(x) "
                                  "carry the reconstruction likelihood N(Dis_l(x); Dis_l(x~), I) (0: the last)")
    gamma: float = _help(1.0, "the paper's weight of the feature likelihood against the GAN term in the "
                              "decoder's update, gamma * L_llike + (the generator_loss term)")
    generator_loss: str = _help("non_saturating", "the decoder's GAN term: non_saturating, -log D(x~) - log D(x_p) "
                                                  "(Goodfellow et al.'s fix: it keeps a gradient when the discriminator "
                                                  "wins); minimax, the paper's -L_GAN", choices=GENERATOR_LOSSES)
    # the balancing rule of the paper's released code (andersbll/autoencoding_beyond_pixels), off at 0
    equilibrium: float = _help(0.0, "balance the two players (0: off; the authors' code uses 0.68, about ln 2, "
                                    "the cross-entropy of a discriminator that cannot tell): a step skips the "
                                    "discriminator's update when its loss on reals or on fakes is below "
                                    "equilibrium - margin, and the decoder's GAN term when either is above "
                                    "equilibrium + margin (never both)")
    margin: float = _help(0.35, "half-width of the band around equilibrium in which both players train")

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> "VAEGANConfig":
        """A saved config without `generator_loss` predates it: it was trained with the paper's minimax term."""
        return cls.from_dict({"generator_loss": "minimax", **values})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.channels = tuple(int(c) for c in self.channels)
        self.dis_channels = tuple(int(c) for c in self.dis_channels)
        if self.generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {self.generator_loss!r}")
        if self.likelihood != "gaussian":
            raise ValueError("the vaegan family takes --likelihood gaussian: its discriminator must see real images "
                             "as continuous (dequantised) values like its decoded fakes, not binarised ones")
        if self.learn_scale:
            raise ValueError("the vaegan family has no trained pixel likelihood: learn_scale must be False")
        if not self.channels or not self.dis_channels:
            raise ValueError("channels and dis_channels must each name at least one conv layer")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if not 0 <= self.feature_layer <= len(self.dis_channels):
            raise ValueError(f"feature_layer must be 0 (the last) or 1..{len(self.dis_channels)}, got {self.feature_layer}")
        if self.dis_hidden < 0:
            raise ValueError(f"dis_hidden must be 0 or more, got {self.dis_hidden}")
        if not (self.equilibrium >= 0 and self.margin >= 0):  # NaN fails too
            raise ValueError(f"equilibrium and margin must be 0 or more, got {self.equilibrium}, {self.margin}")
        if self.equilibrium > 0 and self.generator_loss != "non_saturating":
            raise ValueError("equilibrium balancing needs generator_loss non_saturating: the minimax term reaches "
                             "the decoder through the discriminator's own loss, so it cannot be dropped alone")
        if not self.gamma > 0:  # NaN fails too
            raise ValueError(f"gamma must be above 0, got {self.gamma}")

    @property
    def likelihood_layer(self) -> int:
        """l, 1-based: feature_layer, or the last conv layer when it is 0."""
        return self.feature_layer or len(self.dis_channels)
