"""Lightning's SimpleProfiler, plus a machine-readable summary: `<stage>-<filename>.json` in its folder
holds, per profiled action (every hook of every callback, the module's steps, the loops), its number of
calls and total seconds. `make bench` reads it to report what each callback and the progress bar cost.
Each stage's report covers that stage only (fit, then test, in one run)."""

from __future__ import annotations

import json
import os

from lightning.pytorch.profilers import SimpleProfiler


class HookProfiler(SimpleProfiler):
    def describe(self) -> None:
        if self.dirpath and self.filename and self._local_rank in (None, 0):
            summary = {
                action: {"calls": len(d), "total_s": float(sum(d))}
                for action, d in self.recorded_durations.items()
            }
            os.makedirs(self.dirpath, exist_ok=True)
            path = os.path.join(str(self.dirpath), self._prepare_filename(extension=".json"))
            with open(path, "w") as f:
                json.dump(summary, f, indent=1)
        super().describe()
        self.recorded_durations.clear()  # the next stage (test after fit) reports its own actions only


def callback_seconds(summary: dict[str, dict]) -> dict[str, float]:
    """Total seconds per callback class, summed over all its hooks, from a HookProfiler summary."""
    out: dict[str, float] = {}
    for action, stats in summary.items():
        if action.startswith("[Callback]"):
            name = action[len("[Callback]") :].split(".")[0].split("{")[0]
            out[name] = out.get(name, 0.0) + stats["total_s"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
