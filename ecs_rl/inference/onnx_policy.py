"""An exported policy run by onnxruntime (imported only when an ``.onnx`` file is loaded)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .header import PolicyFileError, check_header
from .policy import ExportedPolicy, _first_line

METADATA_KEY = "ecs_rl"  # the header's key in the model's metadata


class OnnxPolicy(ExportedPolicy):
    """The network as an ONNX graph (input ``obs``: float32 ``[batch, obs_dim]``; output: the header's
    ``output``, float32 ``[batch, n]``), run by onnxruntime on the CPU with ``threads`` intra-op threads.

    Args:
        session: the onnxruntime ``InferenceSession``.
        spec: the file's header.
        source: the file it was loaded from.
    """

    def __init__(self, session, spec, source: str | os.PathLike[str]) -> None:
        super().__init__(spec, source)
        self.session = session
        self._input = session.get_inputs()[0].name
        self._outputs = [session.get_outputs()[0].name]

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int = 1) -> "OnnxPolicy":
        """Read an exported ``.onnx`` policy with onnxruntime (needs ``ecs-rl[onnx]``).

        Args:
            path: the ``.onnx`` file.
            threads: onnxruntime's intra-op threads (1: as ``configure_torch`` gives torch).
        """
        path = Path(path)
        if not path.is_file():
            raise PolicyFileError(f"policy file {path} does not exist" if not path.exists()
                                  else f"policy file {path} is not a file")
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModuleNotFoundError(f"loading {path} needs onnxruntime: pip install 'ecs-rl[onnx]' "
                                      "(or export a .npz, which needs numpy only)") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # one thread is fastest for small networks (and shares the CPU)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unparsable graphs
            raise PolicyFileError(f"policy file {path} is not a readable ONNX model ({_first_line(exc)})") from None
        meta = session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise PolicyFileError(f"policy file {path} has no {METADATA_KEY!r} metadata: not an ecs-rl policy file")
        try:
            header = json.loads(meta[METADATA_KEY])
        except json.JSONDecodeError as exc:
            raise PolicyFileError(f"policy file {path}: its {METADATA_KEY!r} metadata is not JSON "
                                  f"({_first_line(exc)})") from None
        spec = check_header(header, str(path))
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or inputs[0].type != "tensor(float)" or len(inputs[0].shape) != 2 \
                or inputs[0].shape[1] != spec.obs_dim:
            raise PolicyFileError(f"policy file {path}: the graph's input must be one float tensor [batch, "
                                  f"{spec.obs_dim}], got {[(i.name, i.type, i.shape) for i in inputs]}")
        if len(outputs) != 1 or outputs[0].type != "tensor(float)" or len(outputs[0].shape) != 2 \
                or outputs[0].shape[1] != spec.sizes[-1]:
            raise PolicyFileError(f"policy file {path}: the graph's output must be one float tensor [batch, "
                                  f"{spec.sizes[-1]}], got {[(o.name, o.type, o.shape) for o in outputs]}")
        return cls(session, spec, path)

    def forward(self, obs: np.ndarray) -> np.ndarray:
        """The network's output for a float32 ``(n, obs_dim)`` batch: ``(n, outputs)`` float32.

        Args:
            obs: the observations.
        """
        return self.session.run(self._outputs, {self._input: obs})[0]
