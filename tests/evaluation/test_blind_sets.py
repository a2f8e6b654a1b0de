"""The blind sets are frozen: every file's SHA-256 is pinned here (data/eval/blind/README.md says why).

An edit to a blind file fails this test. Changing a pin needs a reason in the commit that changes it; tuning a
tool is never one.
"""

from __future__ import annotations

import hashlib

from salesboost.config import DATA_DIR

BLIND = DATA_DIR / "eval" / "blind"

PINNED = {
    "compliance.jsonl": "f74c7037c93ea67f93e3aaaf284019163083ed031c3319f319691c4bb0fe0020",
    "stage.jsonl": "f1541ee3a7b55b9d7c510228575659b8d3a2e48bc2663e7864f444101ac7ca48",
    "knowledge/queries.jsonl": "a1f068c4df391ce72af165a50785cd91af165da6e3b4800de738610ec1ff5ca7",
    "knowledge/corpus/battlecards/geotrack.md": "944bb3dcd47deb929bc2143c357f18e76d27f0c9759e9268d0875e4145b32f18",
    "knowledge/corpus/battlecards/routemaster.md": "03d4af47d2fa71a65c2ea410e871abd736b33f6ed13d0cf786a29ed523d94287",
    "knowledge/corpus/battlecards/spreadsheets-and-paper.md":
        "dc30b6cb49a0161cb5acd775331a340306f5fa5ea210e9c147f3a1f8d799d7bb",
    "knowledge/corpus/battlecards/trackwise.md": "7dfa841fc170e117940eee4b4a876b7f19c36b2da2fa8482d609eaf64ec37f2f",
    "knowledge/corpus/policies/acceptable-use.md": "946fd4d10bca0c27ffb7789a88c0acdbc69e1aad6deca277d4db9b1a951dd7a9",
    "knowledge/corpus/policies/cancellation-and-refunds.md":
        "94fe7b760f0f47836c98cb6a34c76d5c781381ce5cd6242b342a9696edc7d31e",
    "knowledge/corpus/policies/data-retention-privacy.md":
        "089732c7f056492937619c164bad50f83c5eb00d0f640cb84399eb3012ba1a7b",
    "knowledge/corpus/policies/sales-conduct.md": "150a198b797cd1fc839a335bd22d0fd8b1ffbf9752e26dcaec8a631afc6fbeef",
    "knowledge/corpus/policies/security.md": "cac8784364649054be615513913a8c1f8baf61c92caa371892c2b7c53c06e27b",
    "knowledge/corpus/policies/sla-and-support-hours.md":
        "ef41ff9f1882d50170e566a8df03ce299c65f1fbd9acabda1e1b61ec6ac8d68a",
    "knowledge/corpus/policies/warranty-and-rma.md": "0a927c5d2af985b8ee9205e13d81da8a831f42ab739d59c2025a6865ddc21c3e",
    "knowledge/corpus/pricing/discount-approvals.md":
        "ca1f20ea3d22b4381536134139cdd98be3afcfff01ad917fd4c6181a4ad44477",
    "knowledge/corpus/pricing/hardware-prices.md": "1956b19282c241ffd94fd998177c806beb7e983f2acb549f36e0669f91d95f3c",
    "knowledge/corpus/pricing/payment-terms.md": "98e4c3dc4b243d961a7ddd105267e3dbdb00b5d9d09d2bf5a2a845ba6c3add1b",
    "knowledge/corpus/pricing/plans.md": "deec6d973084337f78553bdbf78be82776aeb94f8f39693f31ca78e097cce5eb",
    "knowledge/corpus/pricing/trial-and-pilot.md": "880b4d63bda235f408d75522aa0e96fa4857d62434712be20c9fa487ff86e002",
    "knowledge/corpus/pricing/volume-tiers.txt": "68732553b5736ca85422333867f0dc8f526e2a64c9158134bdf8be50da67cbf6",
    "knowledge/corpus/products/coldchain-sensor.txt":
        "94eae00ad34ff6614a7f1f0263538d5804c1644d59c7fc88009b35c58aec2d00",
    "knowledge/corpus/products/dashcam-d4.md": "1a185959e0e76558103ff134b04532e5dfa96ad3ec44ccb52b62acead8920ad6",
    "knowledge/corpus/products/driver-safety-coaching.md":
        "537cba1798fef8199d827ec428795d06f7eab2112e08732758c2376b44182678",
    "knowledge/corpus/products/fleetview.md": "a2556688c5eaaa111dc6801f0ca5582700ad30dd0653ead6e131c60ffb3de0f9",
    "knowledge/corpus/products/routeiq.md": "b4944cd876e579bdcc88522b3dec47265833c73e4c34184a6c1dfa87f0b3207b",
    "knowledge/corpus/products/tachograph.md": "e18c2af9ae78d611755312f885607ce0e8bf46dc8bd7c8ca0a14e191efe6ea02",
    "knowledge/corpus/products/tracker-t2.md": "0d8b779d5cb1429e2347e8a0d3bf7d175a0e18a0493c88a2e939fdced2e83877",
    "knowledge/corpus/support/api-and-webhooks.md": "e2544db7d2c536338c1664d9d191e92bd888f59be12477bc5c891a22043b3bce",
    "knowledge/corpus/support/glossary.md": "86b46150d752bc57ce9da87463760d8713a872de96aac646924b5f0aaa4b3589",
    "knowledge/corpus/support/installation-guide.md":
        "4513a9a0b711166ac8a46f557106c4b10aacde647be0eae1542d6a753ba45bb9",
    "knowledge/corpus/support/onboarding-timeline.md":
        "ce9a65bff99f1fabd03031cd8e1e53a223ac524ab7c1b7f3a3974c49e2538b39",
    "knowledge/corpus/support/troubleshooting.md": "d6cb61cb98005d8ac73e4c4c2bf64a7b92a476778d0d0f03eb681dc102d0f7a3",
}


def test_every_blind_file_is_pinned_and_unchanged() -> None:
    present = {
        p.relative_to(BLIND).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in BLIND.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert present.keys() == PINNED.keys(), "a blind file was added or removed: see data/eval/blind/README.md"
    changed = sorted(name for name, digest in present.items() if digest != PINNED[name])
    assert not changed, f"blind files edited (they are frozen, see data/eval/blind/README.md): {changed}"
