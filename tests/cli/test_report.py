"""What the command lines print after scoring: the headline, the note on negative NLLs, the collapse warning."""

from explorer.analysis.collapse import collapse_verdict
from explorer.cli.report import NEGATIVE_NLL, collapse_warning, score_lines


def test_scores_show_active_units_out_of_the_dimensions():
    lines = score_lines({"iwae_nll_nats": 90.5, "elbo_nats": -93.25, "kl_nats": 20.0, "active_units": 14,
                         "latent_dims": 16})
    assert lines == ["iwae_nll_nats=90.500, elbo_nats=-93.250, kl_nats=20.000, active_units=14/16"]


def test_a_negative_nll_of_continuous_data_gets_its_explanation():
    lines = score_lines({"iwae_nll_nats": -3536.78, "iwae_bits_per_dim": 6.339, "latent_dims": 32})
    assert lines[1] == NEGATIVE_NLL and "density can exceed 1" in lines[1]
    # a feature-space bound (VAE/GAN) is not a pixel density: no such note
    assert len(score_lines({"iwae_nll_nats": -5.0, "likelihood_space": "features"})) == 1


def test_the_warning_names_both_measures_and_the_remedies():
    metrics = {"collapse": collapse_verdict(1.02, [0.1] * 10, n_active=10)}
    text = collapse_warning(metrics)
    assert text.startswith("warning: posterior collapse") and "1.02 nats" in text and "10 are active" in text
    for remedy in ("--warmup-epochs", "--free-bits", "--beta", "--epochs"):
        assert remedy in text
    assert collapse_warning({"collapse": collapse_verdict(20.0, [2.0] * 10, n_active=10)}) is None
    assert collapse_warning({}) is None  # metrics written before the verdict existed
