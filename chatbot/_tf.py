"""TensorFlow, imported once with its C++ start-up chatter kept off the terminal.

TensorFlow's native logging (oneDNN notices, "could not find cuda drivers")
ignores TF_CPP_MIN_LOG_LEVEL before absl is initialised and writes straight
to file descriptor 2, so stderr is pointed at /dev/null while TensorFlow
imports and initialises its CPU device. Python exceptions still surface:
stderr is restored before they propagate. Set CHATBOT_TF_LOGS=1 to see it all.
"""

from __future__ import annotations

import os
import sys

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


tf, keras = _quiet_import()
