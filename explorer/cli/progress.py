"""Progress bars of the command lines (tqdm, on stderr): one over the scored items, one per map."""

from __future__ import annotations

import sys


class Bars:
    """tqdm bars: one over the scored items (`start_items`, then `scored` per batch), one per map (`map_progress`,
    an `explorer.run_folder.MapProgress`); nothing is drawn when not enabled."""

    def __init__(self, enabled: bool):
        self.enabled, self.item_bar, self.map_bar, self.map_name = enabled, None, None, None

    def start_items(self, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        self.item_bar = tqdm(total=total, desc=desc, unit="item", disable=not self.enabled, file=sys.stderr)

    def scored(self, items: int) -> None:
        self.item_bar.update(items)
        if self.item_bar.n >= self.item_bar.total:  # scoring is over: the map bars follow on their own lines
            self.item_bar.close()

    def map_progress(self, method: str, fraction: float, stage: str) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        if method != self.map_name:
            self.close()
            self.map_name = method
            self.map_bar = tqdm(total=100, desc=f"{method.upper()} map", unit="%", file=sys.stderr,
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")
        self.map_bar.n = int(round(100 * min(max(fraction, 0.0), 1.0)))
        self.map_bar.set_postfix_str(stage[:60], refresh=True)

    def fraction(self, desc: str, fraction: float, note: str = "") -> None:
        """One percentage bar named desc (a long run: a distillation), moved to fraction (0 to 1) with a note."""
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        if self.map_bar is None or self.map_name != desc:
            self.close()
            self.map_name = desc
            self.map_bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr,
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")
        self.map_bar.n = int(round(100 * min(max(fraction, 0.0), 1.0)))
        self.map_bar.set_postfix_str(note[:60], refresh=True)

    def close(self) -> None:
        if self.item_bar is not None:
            self.item_bar.close()
        if self.map_bar is not None:
            self.map_bar.close()
            self.map_bar = None
