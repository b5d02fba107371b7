"""Settlement names in claims resolved across Russian, Ukrainian and English spellings (≥ 25 names),
ambiguous and unknown names flagged with their candidates, never guessed."""

from __future__ import annotations

import pytest

from frontline.analysis.claims import resolve_settlements
from frontline.sources.claims import parse_claim

# A generated GeoNames-format gazetteer: (id, name, alternates, lon, lat); Konstantinovka three times.
PLACES = [
    (101, "Kostiantynivka", "Константиновка,Костянтинівка,Konstantinovka", 37.706, 48.527),  # Donetsk oblast
    (102, "Konstantinovka", "Константиновка,Костянтинівка", 35.338, 51.221),  # Kursk oblast, near Sudzha
    (103, "Konstantinovka", "Константиновка", 39.80, 47.58),  # Rostov oblast
    (104, "Cherkasskoye Porechnoye", "Черкасское Поречное,Черкаське Поріччя,Cherkaske Porichne", 35.146, 51.241),
    (105, "Lebedevka", "Лебедевка,Лебедівка,Lebedivka", 35.162, 51.251),
    (106, "Sudzha", "Суджа,Sudzha,Sudža", 35.270, 51.192),
    (107, "Malaya Loknya", "Малая Локня,Мала Локня,Mala Loknia", 35.183, 51.286),
    (108, "Pokrovsk", "Покровськ,Покровск,Krasnoarmeysk,Красноармейск", 37.181, 48.282),
    (109, "Bakhmut", "Бахмут,Artemovsk,Артемовск,Artemivsk", 38.0, 48.595),
    (110, "Vovchansk", "Вовчанськ,Волчанск,Volchansk", 36.942, 50.291),
    (111, "Kupiansk", "Куп'янськ,Купянск,Kupyansk", 37.610, 49.710),
    (112, "Orikhiv", "Оріхів,Орехов,Orekhov", 35.786, 47.567),
    (113, "Avdiivka", "Авдіївка,Авдеевка,Avdeyevka", 37.752, 48.139),
    (114, "Vuhledar", "Вугледар,Угледар,Ugledar", 37.249, 47.780),
    (115, "Myrnohrad", "Мирноград,Dimitrov,Димитров", 37.262, 48.305),
    (116, "Sumy", "Суми,Сумы", 34.800, 50.911),
    (117, "Yunakivka", "Юнаківка,Юнаковка,Yunakovka", 35.05, 51.07),
    (118, "Martynovka", "Мартыновка,Мартинівка,Martynivka", 35.22, 51.23),
    (119, "Nikolayevo-Daryino", "Николаево-Дарьино,Миколаєво-Дар'їно,Mykolaievo-Darino", 35.36, 51.28),
    (120, "Novoselovka", "Новоселовка,Новоселівка,Novoselivka", 37.52, 48.36),
    (121, "Novoselovka", "Новоселовка,Новоселівка,Novoselivka", 36.30, 49.40),
]

# (query, expected id or None when ambiguous) — Russian, Ukrainian and English spellings
CASES = [
    ("Kostiantynivka", None),
    ("Костянтинівка", None),
    ("Константиновка", None),
    ("Konstantinovka", None),
    ("Cherkasskoye Porechnoye", 104),
    ("Cherkaske Porichne", 104),
    ("Черкасское Поречное", 104),
    ("Черкаське Поріччя", 104),
    ("Lebedevka", 105),
    ("Lebedivka", 105),
    ("Лебедевка", 105),
    ("Лебедівка", 105),
    ("Sudzha", 106),
    ("Суджа", 106),
    ("Sudža", 106),
    ("Malaya Loknya", 107),
    ("Mala Loknia", 107),
    ("Малая Локня", 107),
    ("Мала Локня", 107),
    ("Pokrovsk", 108),
    ("Покровськ", 108),
    ("Krasnoarmeysk", 108),
    ("Artemovsk", 109),
    ("Бахмут", 109),
    ("Volchansk", 110),
    ("Вовчанськ", 110),
    ("Kupyansk", 111),
    ("Куп'янськ", 111),
    ("Orekhov", 112),
    ("Оріхів", 112),
    ("Avdeyevka", 113),
    ("Авдіївка", 113),
    ("Ugledar", 114),
    ("Вугледар", 114),
    ("Сумы", 116),
    ("Yunakovka", 117),
    ("Юнаківка", 117),
    ("Martynivka", 118),
    ("Mykolaievo-Darino", 119),
    ("Николаево-Дарьино", 119),
    ("Novoselivka", None),
]


@pytest.fixture(scope="module")
def gaz(tmp_path_factory):
    from frontline.sources.geonames import load_gazetteer

    p = tmp_path_factory.mktemp("names") / "places.txt"
    p.write_text(
        "\n".join(
            "\t".join(
                [
                    str(i),
                    n,
                    n,
                    alt,
                    str(lat),
                    str(lon),
                    "P",
                    "PPL",
                    "UA",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "1000",
                    "",
                    "",
                    "Europe/Kyiv",
                    "2025-01-01",
                ]
            )
            for i, n, alt, lon, lat in PLACES
        )
        + "\n",
        encoding="utf-8",
    )
    return load_gazetteer(p)


def _claim(name, **kw):
    return parse_claim(
        {"claimant": "x", "time": "2025-03-12", "settlement": name, "side": "ru", "change": "taken"} | kw
    )


def test_many_spellings(gaz):
    assert len(CASES) >= 25
    claims = [_claim(q) for q, _ in CASES]
    res = resolve_settlements(claims, gaz)
    pos = {pid: i for i, (pid, *_rest) in enumerate(PLACES)}
    wrong = []
    for (q, want), r, c in zip(CASES, res, claims):
        if want is None:
            if r["status"] != "ambiguous" or c.has_point:
                wrong.append((q, r))
        elif r["status"] != "resolved" or r["id"] != want:
            wrong.append((q, r))
        else:  # the claim gets the gazetteer's point
            _, _, _, lon, lat = PLACES[pos[want]]
            assert (c.lon, c.lat) == pytest.approx((lon, lat))
    assert not wrong, wrong


def test_ambiguous_lists_candidates_and_near_disambiguates(gaz):
    [r] = resolve_settlements([c := _claim("Konstantinovka")], gaz)
    assert r["status"] == "ambiguous" and not c.has_point
    assert {x["id"] for x in r["candidates"]} == {101, 102, 103}
    assert all({"lon", "lat", "name", "score"} <= set(x) for x in r["candidates"])
    # a near hint (Sudzha area, 30 km) picks the Kursk one
    [r] = resolve_settlements([c := _claim("Константиновка", near="35.27 51.19 30")], gaz)
    assert r["status"] == "resolved" and r["id"] == 102 and c.lon == pytest.approx(35.338)
    # coordinates given: used as they are, the name is only checked near them
    [r] = resolve_settlements([c := _claim("Konstantinovka", lon=35.34, lat=51.22)], gaz)
    assert r["status"] == "coordinates" and r["name_check"]["status"] == "matches"
    assert (c.lon, c.lat) == (35.34, 51.22)


def test_unknown_is_flagged_not_guessed(gaz):
    [r] = resolve_settlements([c := _claim("Lebedinka")], gaz)  # a look-alike, not a variant spelling
    assert r["status"] == "unknown" and not c.has_point
    assert any(x["id"] == 105 for x in r["candidates"])  # offered as a suggestion only
    [r] = resolve_settlements([c := _claim("Zzyzx")], gaz)
    assert r["status"] == "unknown" and not c.has_point
