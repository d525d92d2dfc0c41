"""The caption model of Pu et al. (2016): a recurrent language model conditioned on the code s.

The first hidden state is h1 = tanh(W s) and the first word comes from softmax(V h1); every later step reads
the previous word's embedding and s again (through a learned projection; feeding s itself into the RNN's
input weights is the same map of rank `feed_dim`). Training uses teacher forcing.

Decoding works on several draws of s per image at once: `codes` is (B, M, D) and at every step the M draws'
next-word distributions are averaged (probabilities, not logits), so greedy, sampled and beam-searched
captions are the posterior-averaged predictions the paper uses at test time. M = 1 decodes a single code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.text import EOS_ID, PAD_ID

RNNS = ("gru", "lstm")
State = Tensor | tuple[Tensor, Tensor]


class CaptionDecoder(nn.Module):
    """p(caption | s) with a GRU or LSTM; vocab_size includes the special tokens."""

    def __init__(self, code_dim: int, vocab_size: int, embed_dim: int, hidden_dim: int, feed_dim: int, rnn: str = "gru"):
        super().__init__()
        if rnn not in RNNS:
            raise ValueError(f"rnn must be one of {RNNS}, got {rnn!r}")
        self.kind = rnn
        self.init_hidden = nn.Linear(code_dim, hidden_dim)
        self.feed = nn.Linear(code_dim, feed_dim)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.rnn = (nn.GRU if rnn == "gru" else nn.LSTM)(embed_dim + feed_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, vocab_size)
        self.register_buffer("pad_mask", torch.arange(vocab_size) == PAD_ID, persistent=False)

    # -- pieces shared by training and decoding ---------------------------------------------------
    def word_logits(self, hidden: Tensor) -> Tensor:
        """Next-word logits from hidden states (..., H) -> (..., V); <pad> is never a word (logit -inf)."""
        logits = self.out(hidden)
        return logits.masked_fill(self.pad_mask, -math.inf)

    def start(self, codes: Tensor) -> tuple[Tensor, State, Tensor]:
        """codes (N, D) -> (first-word logits (N, V), recurrent state, per-step code feed (N, F))."""
        h1 = torch.tanh(self.init_hidden(codes))  # (N, H)
        state: State = h1.unsqueeze(0)
        if self.kind == "lstm":
            state = (state, torch.zeros_like(state))
        return self.word_logits(h1), state, self.feed(codes)

    def advance(self, tokens: Tensor, state: State, feed: Tensor) -> tuple[Tensor, State]:
        """Read one word per row (N,) and return the next word's logits (N, V) and the new state."""
        step_in = torch.cat([self.embed(tokens), feed], dim=-1).unsqueeze(1)  # (N, 1, E+F)
        out, state = self.rnn(step_in, state)
        return self.word_logits(out[:, 0]), state

    # -- training ---------------------------------------------------------------------------------
    def logits(self, codes: Tensor, tokens: Tensor) -> Tensor:
        """Teacher-forced logits (N, T, V) for target tokens (N, T) (words, <eos>, then padding)."""
        first, state, feed = self.start(codes)
        if tokens.shape[1] == 1:
            return first.unsqueeze(1)
        inputs = torch.cat([self.embed(tokens[:, :-1]), feed.unsqueeze(1).expand(-1, tokens.shape[1] - 1, -1)], dim=-1)
        out, _ = self.rnn(inputs, state)  # (N, T-1, H)
        return torch.cat([first.unsqueeze(1), self.word_logits(out)], dim=1)

    def nll(self, codes: Tensor, tokens: Tensor) -> Tensor:
        """-log p(tokens | code) per row (N,), summed over the non-padding positions."""
        logits = self.logits(codes, tokens)
        per_token = F.cross_entropy(logits.transpose(1, 2), tokens, ignore_index=PAD_ID, reduction="none")
        return per_token.sum(1)

    # -- decoding over posterior draws -------------------------------------------------------------
    def _averaged(self, logits: Tensor, m: int) -> Tensor:
        """(N*M, V) logits of M draws per row -> (N, V) log of the draw-averaged next-word probabilities.
        """
        logp = torch.log_softmax(logits, dim=-1)
        return torch.logsumexp(logp.view(-1, m, logp.shape[-1]), dim=1) - math.log(m)

    @staticmethod
    def _repeat_state(state: State, index: Tensor) -> State:
        if isinstance(state, tuple):
            return tuple(s[:, index] for s in state)  # type: ignore[return-value]
        return state[:, index]

    @torch.no_grad()
    def greedy_or_sample(
        self, codes: Tensor, max_len: int, sample: bool, temperature: float = 1.0, generator: torch.Generator | None = None,
    ) -> Tensor:
        """codes (B, M, D) -> token ids (B, max_len): one caption per row, <eos> then padding once finished.

        Greedy takes the most probable word of the averaged distribution; sampling draws from it after
        dividing the log-probabilities by `temperature`.
        """
        b, m, d = codes.shape
        logits, state, feed = self.start(codes.reshape(b * m, d))
        out = torch.full((b, max_len), PAD_ID, dtype=torch.long, device=codes.device)
        done = torch.zeros(b, dtype=torch.bool, device=codes.device)
        for t in range(max_len):
            logp = self._averaged(logits, m)  # (B, V)
            if sample:
                tok = torch.multinomial(torch.softmax(logp / temperature, -1), 1, generator=generator).squeeze(1)
            else:
                tok = logp.argmax(-1)
            tok = torch.where(done, torch.full_like(tok, PAD_ID), tok)
            out[:, t] = tok
            done = done | (tok == EOS_ID)
            if bool(done.all()) or t == max_len - 1:
                break
            logits, state = self.advance(tok.repeat_interleave(m), state, feed)
        return out

    @torch.no_grad()
    def beam_search(self, codes: Tensor, max_len: int, beam_size: int, n_best: int = 1, length_penalty: float = 0.0) -> tuple[Tensor, Tensor]:
        """codes (B, M, D) -> (token ids (B, n_best, max_len), scores (B, n_best)), best first.

        Scores are sums of log draw-averaged word probabilities, divided by length**length_penalty when
        ranking the finished captions. A caption that emits <eos> is finished and keeps its score.
        """
        b, m, d = codes.shape
        k = beam_size
        if not 1 <= n_best <= k:
            raise ValueError(f"n_best must be between 1 and beam_size ({k}), got {n_best}")
        device = codes.device
        logits, state, feed = self.start(codes.reshape(b * m, d))
        vocab = logits.shape[-1]
        # start with k copies of each image's state; only beam 0 is live so the first step has no duplicates
        rows = torch.arange(b * m, device=device).view(b, 1, m).expand(b, k, m).reshape(-1)
        logits, state, feed = logits[rows], self._repeat_state(state, rows), feed[rows]
        scores = torch.full((b, k), -math.inf, device=device)
        scores[:, 0] = 0.0
        seqs = torch.full((b, k, max_len), PAD_ID, dtype=torch.long, device=device)
        lengths = torch.zeros(b, k, device=device)
        done = torch.zeros(b, k, dtype=torch.bool, device=device)
        pad_only = torch.full((vocab,), -math.inf, device=device)
        pad_only[PAD_ID] = 0.0
        for t in range(max_len):
            logp = self._averaged(logits, m).view(b, k, vocab)
            logp = torch.where(done.unsqueeze(-1), pad_only, logp)  # a finished beam continues only with padding
            cand = (scores.unsqueeze(-1) + logp).view(b, k * vocab)
            scores, flat = cand.topk(k, dim=1)  # (B, K)
            parent, tok = flat // vocab, flat % vocab
            seqs = seqs.gather(1, parent.unsqueeze(-1).expand(-1, -1, max_len)).clone()
            seqs[:, :, t] = tok
            was_done = done.gather(1, parent)
            lengths = lengths.gather(1, parent) + (~was_done).float()
            done = was_done | (tok == EOS_ID)
            if bool(done.all()) or t == max_len - 1:
                break
            src = (torch.arange(b, device=device).view(b, 1) * k + parent).view(-1)  # (B*K,) source beam
            state_rows = (src.view(-1, 1) * m + torch.arange(m, device=device)).view(-1)
            state, feed = self._repeat_state(state, state_rows), feed[state_rows]
            logits, state = self.advance(tok.view(-1).repeat_interleave(m), state, feed)
        ranked = scores / lengths.clamp_min(1.0).pow(length_penalty) if length_penalty else scores
        order = ranked.argsort(dim=1, descending=True)[:, :n_best]
        return seqs.gather(1, order.unsqueeze(-1).expand(-1, -1, max_len)), scores.gather(1, order)

    @torch.no_grad()
    def sequence_log_prob(self, codes: Tensor, tokens: Tensor) -> Tensor:
        """log of the draw-averaged probability of whole captions: codes (B, M, D), tokens (B, T) -> (B,)."""
        b, m, d = codes.shape
        rep = tokens.repeat_interleave(m, dim=0)
        log_p = -self.nll(codes.reshape(b * m, d), rep).view(b, m)
        return torch.logsumexp(log_p, dim=1) - math.log(m)
