"""list_catalog: every item's and customer's names, with a master-data version for caching."""

from __future__ import annotations

from tests.helpers import call


def test_list_catalog_lists_names_and_skips_when_unchanged(bike_url: str) -> None:
    out = call(bike_url, "list_catalog")
    assert [i["code"] for i in out["items"]] == sorted(["BIKE", "WHEEL", "FRAME", "RIM", "SPOKE", "TIRE", "SEAT",
                                                        "SEAT-B"])
    bike = next(i for i in out["items"] if i["code"] == "BIKE")
    assert (bike["name"], bike["aliases"]) == ("自行车", ["bicycle"])
    assert [c["code"] for c in out["customers"]] == ["城市单车"]
    again = call(bike_url, "list_catalog", if_version_not=out["version"])
    assert again["unchanged"] is True and again["items"] == []
