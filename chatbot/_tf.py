"""TensorFlow, imported once with its C++ start-up chatter kept off the terminal.

TensorFlow's native logging (oneDNN notices, "could not find cuda drivers")
ignores TF_CPP_MIN_LOG_LEVEL before absl is initialised and writes straight
to file descriptor 2, so stderr is pointed at /dev/null while TensorFlow
imports and initialises its CPU device. Python exceptions still surface:
stderr is restored before they propagate. Set CHATBOT_TF_LOGS=1 to see it all.

TensorFlow starts on the first `from ._tf import tf` (or keras), not when this
module is imported, so `prefer_parallel_ops` can set the thread pools first.

Threads for training (`prefer_parallel_ops`): by default TensorFlow splits
every op over all cores (intra-op threads). The recurrent steps of a batch
of conversations are too small to split well; running independent ops side
by side, one core each (inter-op threads), is faster: the decoders of a
window's first span run beside the encoder reading its second
(training/steps.py; the figures are in docs/architecture.md, "Fast paths").
The pools are fixed once TensorFlow has started, so `chatbot train` calls
this before importing it; a user's own TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS win.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# Declared, not assigned: the first `from ._tf import tf` finds them missing and
# calls __getattr__, which imports TensorFlow and binds both.
tf: Any
keras: Any

# Level 3 also hides a spurious oneDNN "DT_BOOL" error line; real failures still
# raise Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _quiet_import() -> tuple:
    if os.environ.get("CHATBOT_TF_LOGS") or "tensorflow" in sys.modules:
        import keras
        import tensorflow

        return tensorflow, keras
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
        import tensorflow

        # The first op and the first graph initialise the device and the
        # graph optimiser, which have more to say. Not in a multi-worker
        # process: its collective ops must be configured before the first op.
        if "TF_CONFIG" not in os.environ:
            tensorflow.function(lambda x: tensorflow.not_equal(x, 0))(tensorflow.constant([1]))
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow, keras


def __getattr__(name: str):
    """`tf` and `keras`, imported on first use (PEP 562)."""
    if name not in ("tf", "keras"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global tf, keras
    tf, keras = _quiet_import()
    return globals()[name]


def prefer_parallel_ops() -> bool:
    """One thread per op and as many ops at once as cores; False if too late."""
    if "tensorflow" in sys.modules:
        return False
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(os.cpu_count() or 1))
    return True
