"""Running a script's steps one by one inside a Blender window (after the UI is up, between redraws).

    from window_steps import run_steps
    run_steps([setup, check, finish], on_error=lambda exc: print(...))

Each step is called from a ``bpy.app.timers`` timer and returns the seconds to wait before the next one, or None
when it will continue the chain itself by calling ``next_step()`` (e.g. after a modal operator finished). An
exception ends the chain: ``on_error(exc)`` reports it, then Blender quits (a hanging window helps nobody).
"""

import bpy

_state = {}


def run_steps(steps, on_error, first_interval: float = 1.0) -> None:
    _state["steps"], _state["on_error"] = iter(steps), on_error
    bpy.app.timers.register(_run_next, first_interval=first_interval)


def next_step(delay: float = 0.5) -> None:
    bpy.app.timers.register(_run_next, first_interval=delay)


def _run_next():
    try:
        return next(_state["steps"])()
    except StopIteration:
        return None
    except Exception as exc:
        _state["on_error"](exc)
        bpy.ops.wm.quit_blender()
        return None
