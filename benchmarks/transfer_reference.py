"""Keep notebook 04's results WITH the pretrained weights inside radkit (radkit/pretrained/transfer_reference.json).

The MobileNetV2 weights file is not shipped with radkit (it comes from Keras' site, or a workshop's data
pack), so a computer with no data at all trains MobileNetV2 from random weights, and notebook 04 cannot
show what pretraining brings. It then shows, beside its own run, the results of its stored full-mode
run on real PneumoniaMNIST with the weights: this script copies them from that run's stored outputs.

Run it after re-running notebook 04 in full mode with the data pack (the weights and the real films):

    RADKIT_LOCAL_DATA=../shared/data jupyter nbconvert --to notebook --execute --inplace solutions/04_transfer_learning.ipynb
    python benchmarks/transfer_reference.py

tests/test_situations.py fails when the stored results and the notebook's stored outputs disagree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "solutions" / "04_transfer_learning.ipynb"
OUT = ROOT / "radkit" / "pretrained" / "transfer_reference.json"
ROW = re.compile(r"^(MobileNetV2, [^\n]*?|CNN from notebook 02)\s+(\d\.\d{3})\s+(\d+(?:\.\d)?)%$", re.MULTILINE)


def stored_table(notebook: Path = NOTEBOOK) -> dict:
    """The results table notebook 04's stored outputs print, from a run with the pretrained weights.

    Returns ``{"data": ..., "results": {model name: {"AUC": ..., "accuracy": ...}}}``; exits with a message when the stored run had no
    weights, or was not a full-mode run on real films.
    """
    import nbformat

    texts = ["".join(o.get("text", "")) for cell in nbformat.read(notebook, as_version=4).cells
             if cell.cell_type == "code" for o in cell.get("outputs", [])]
    whole = "\n".join(texts)
    if "mode: full" not in whole or "REAL patient images" not in whole:
        sys.exit(f"{notebook.name}'s stored outputs are not a full-mode run on real films.")
    table = next((t for t in texts if "MobileNetV2 weights pretrained on ImageNet: True" in t), None)
    if table is None:
        sys.exit(f"{notebook.name}'s stored outputs are not from a run with the pretrained weights.")
    n_train = re.search(r"Training on (\d+) labelled films", whole)
    return {"data": f"real PneumoniaMNIST, {int(n_train.group(1)):,} training films, full mode",
            "results": {name.strip(): {"AUC": float(auc), "accuracy": round(float(acc) / 100, 4)}
                        for name, auc, acc in ROW.findall(table)}}


def main() -> None:
    table = stored_table()
    reference = {"data": table["data"],
                 "measured": f"notebook 04's stored run ({NOTEBOOK.name}), copied by benchmarks/transfer_reference.py",
                 "results": table["results"]}
    OUT.write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(reference, indent=1))


if __name__ == "__main__":
    main()
