"""Transliteration-tolerant name matching (frontline.names)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontline.names import (
    NameIndex,
    levenshtein,
    match_key,
    normalise,
    similarity,
)

# A small gazetteer of real places (approximate positions) plus confusers:
# names one letter away, same-named villages in other oblasts. Most records
# carry one spelling only, so the rules, not alternate names, must find them;
# renamed towns carry their old names as alternates, as GeoNames does.
PLACES = [
    (1, ["Lebedivka"], 34.93, 51.10),
    (2, ["Lebedyn"], 34.48, 50.58),
    (3, ["Lebedynka"], 29.90, 46.40),
    (4, ["Sudzha", "Суджа"], 35.2726, 51.1976),
    (5, ["Kostiantynivka"], 37.7069, 48.5277),
    (6, ["Kostiantynivka"], 31.1355, 47.8266),
    (7, ["Konstantinovka"], 36.00, 51.50),
    (8, ["Cherkasskoye Porechnoye"], 35.05, 51.29),
    (9, ["Malaya Loknya"], 35.15, 51.32),
    (10, ["Bolshaya Loknya"], 35.20, 51.35),
    (11, ["Kharkiv"], 36.2527, 49.9808),
    (12, ["Pokrovsk", "Krasnoarmiisk", "Krasnoarmeysk"], 37.18, 48.28),
    (13, ["Pokrovske"], 36.2256, 47.9785),
    (14, ["Bakhmut", "Artemivsk", "Artemovsk", "Артемовск", "Бахмут"], 38.00, 48.596),
    (15, ["Zaporizhzhia"], 35.19, 47.82),
    (16, ["Kyiv", "Kiev"], 30.52, 50.45),
    (17, ["Mykolaiv", "Nikolaev", "Nikolayev"], 31.99, 46.97),
    (18, ["Vovchansk"], 36.94, 50.29),
    (19, ["Kupiansk"], 37.61, 49.71),
    (20, ["Avdiivka"], 37.74, 48.14),
    (21, ["Toretsk", "Dzerzhynsk", "Dzerzhinsk"], 37.85, 48.40),
    (22, ["Chasiv Yar"], 37.857, 48.593),
    (23, ["Sumy"], 34.80, 50.92),
    (24, ["Yunakivka"], 35.03, 51.06),
    (25, ["Sverdlikovo"], 35.10, 51.24),
    (26, ["Guyevo"], 35.35, 51.26),
    (27, ["Plekhovo"], 35.09, 51.23),
    (28, ["Nikolayevo-Daryino"], 35.40, 51.27),
    (29, ["Makhnovka"], 35.17, 51.20),
    (30, ["Martynovka"], 35.25, 51.13),
    (31, ["Kurakhove"], 37.28, 47.98),
    (32, ["Velyka Novosilka"], 36.83, 47.85),
    (33, ["Novosilka"], 33.00, 49.00),
    (34, ["Huliaipole"], 36.26, 47.66),
    (35, ["Orikhiv"], 35.79, 47.57),
    (36, ["Vuhledar"], 37.25, 47.78),
    (37, ["Kostiantynivka"], 35.42, 46.82),
    (38, ["Novoselki"], 36.50, 51.80),
    (39, ["Novoselka"], 37.00, 52.20),
    (40, ["Oleksandrivka"], 32.20, 48.70),
    (41, ["Mykolaivka"], 33.00, 47.50),
    (42, ["Velykyi Burluk"], 37.39, 50.06),
    (43, ["Sievierodonetsk"], 38.49, 48.95),
    (44, ["Kryvyi Rih"], 33.39, 47.91),
    (45, ["Bilopillia"], 34.31, 51.15),
    (46, ["Kharkivka"], 34.00, 51.00),
    (47, ["Sumivka"], 33.00, 50.00),
]


@pytest.fixture(scope="module")
def index() -> NameIndex:
    return NameIndex(
        [(pid, names) for pid, names, _, _ in PLACES],
        lonlat=[(lon, lat) for _, _, lon, lat in PLACES],
    )


# query, intended place, places it must not be taken for
RESOLVES = [
    ("Лебедевка", 1, [2, 3]),
    ("Лебедівка", 1, [2, 3]),
    ("Lebedevka", 1, [2, 3]),
    ("Суджа", 4, []),
    ("Sudja", 4, []),
    ("Sudzha", 4, []),
    ("Cherkaske Porichne", 8, []),
    ("Черкасское Поречное", 8, []),
    ("Мала Локня", 9, [10]),
    ("Малая Локня", 9, [10]),
    ("Malaya Loknya", 9, [10]),
    ("Kharkov", 11, [46]),
    ("Харьков", 11, [46]),
    ("Харків", 11, [46]),
    ("Покровськ", 12, [13]),
    ("Pokrovsk", 12, [13]),
    ("Krasnoarmeysk", 12, []),
    ("Artemovsk", 14, []),
    ("Бахмут", 14, []),
    ("Zaporozhye", 15, []),
    ("Запоріжжя", 15, []),
    ("Запорожье", 15, []),
    ("Київ", 16, []),
    ("Киев", 16, []),
    ("Nikolaev", 17, [41]),
    ("Миколаїв", 17, [41]),
    ("Volchansk", 18, []),
    ("Купянск", 19, []),
    ("Kupyansk", 19, []),
    ("Avdeyevka", 20, []),
    ("Dzerzhinsk", 21, []),
    ("Chasov Yar", 22, []),
    ("Сумы", 23, [47]),
    ("Yunakovka", 24, []),
    ("Юнаківка", 24, []),
    ("Свердликово", 25, []),
    ("Гуево", 26, []),
    ("Guevo", 26, []),
    ("Плехово", 27, []),
    ("Николаево-Дарьино", 28, []),
    ("Nikolaevo-Darino", 28, []),
    ("Махновка", 29, []),
    ("Мартыновка", 30, []),
    ("Kurakhovo", 31, []),
    ("Velikaya Novoselka", 32, [33]),
    ("Gulyaipole", 34, []),
    ("Orekhov", 35, []),
    ("Ugledar", 36, []),
    ("Novoselki", 38, [39]),
    ("Aleksandrovka", 40, []),
    ("Nikolaevka", 41, [17]),
    ("Velikiy Burluk", 42, []),
    ("Severodonetsk", 43, []),
    ("Krivoy Rog", 44, []),
    ("Belopolye", 45, []),
]


@pytest.mark.parametrize("query,expected,wrong", RESOLVES, ids=[q for q, _, _ in RESOLVES])
def test_resolves_to_intended_place(index, query, expected, wrong):
    res = index.resolve(query)
    assert res.status == "resolved", res.reason
    assert res.best.id == expected
    top = [m.id for m in index.search(query, limit=3)]
    assert top[0] == expected
    for w in wrong:
        assert res.best.id != w
        # a confuser may appear lower down, but never close to the top
        scores = {m.id: m.score for m in index.search(query, limit=50)}
        if w in scores:
            assert scores[w] < res.best.score - 0.1


@pytest.mark.parametrize("query", ["Konstantinovka", "Kostiantynivka", "Костянтинівка", "Kostyantynivka"])
def test_many_places_with_one_name_are_ambiguous(index, query):
    res = index.resolve(query)
    assert res.status == "ambiguous"
    ids = {m.id for m in res.candidates}
    assert {5, 6, 7, 37} <= ids
    assert "near=" in res.reason


def test_ukrainian_and_russian_forms_of_one_name_are_ambiguous(index):
    # Novosilka (uk) and Novoselka (ru) are the same name: two villages
    res = index.resolve("Novoselka")
    assert res.status == "ambiguous"
    assert {m.id for m in res.candidates} >= {33, 39}
    assert res.best.id == 39  # the exact spelling comes first, but is not chosen


def test_near_disambiguates(index):
    res = index.resolve("Konstantinovka", near=(37.7, 48.5, 30))
    assert res.status == "resolved"
    assert res.best.id == 5
    assert res.best.distance_km < 30
    assert index.resolve("Kostiantynivka", near=(31.0, 47.8, 50)).best.id == 6


def test_near_with_nothing_in_range_is_unknown(index):
    res = index.resolve("Konstantinovka", near=(24.0, 49.8, 20))
    assert res.status == "unknown"
    assert res.best is None
    assert "within 20 km" in res.reason


@pytest.mark.parametrize("query", ["Blorptown", "Xyzzy", "Novaya Kakhovka", "", "!!!"])
def test_unknown_names(index, query):
    res = index.resolve(query)
    assert res.status == "unknown"
    assert res.best is None


def test_look_alike_is_only_a_suggestion(index):
    # "Pokrovka" is a different name; Pokrovsk/Pokrovske are suggested, not chosen
    res = index.resolve("Pokrovka")
    assert res.status == "unknown"
    assert {m.id for m in res.candidates} & {12, 13}
    # a caller who accepts spelling mistakes can lower the bar
    res = index.resolve("Kharkiw", min_score=0.7)
    assert res.status == "resolved" and res.best.id == 11


def test_duplicates_of_one_place_are_not_ambiguous():
    idx = NameIndex(
        [(1, ["Kyiv"]), (2, ["Kiev"]), (3, ["Kyiv"])],
        lonlat=[(30.52, 50.45), (30.53, 50.45), (36.0, 50.0)],
    )
    res = idx.resolve("Kyiv", near=(30.5, 50.4, 50))
    assert res.status == "resolved" and res.best.id in (1, 2)
    assert idx.resolve("Kyiv").status == "ambiguous"  # the other Kyiv is 400 km away


def test_index_without_coordinates_rejects_near():
    idx = NameIndex([(1, "Sumy")])
    assert idx.resolve("Сумы").best.id == 1
    with pytest.raises(ValueError, match="lonlat"):
        idx.resolve("Sumy", near=(34.8, 50.9, 10))


def test_bad_arguments(index):
    with pytest.raises(ValueError, match="radius"):
        index.resolve("Sumy", near=(34.8, 50.9, -1))
    with pytest.raises(ValueError, match="limit"):
        index.search("Sumy", limit=0)
    with pytest.raises(ValueError, match="one \\(lon, lat\\) pair per record"):
        NameIndex([(1, "Sumy")], lonlat=[(1, 2), (3, 4)])
    with pytest.raises(ValueError, match="Record 0"):
        NameIndex(["Sumy"])


def test_search_returns_one_match_per_place_best_first(index):
    res = index.search("Kostiantynivka", limit=10)
    ids = [m.id for m in res]
    assert len(ids) == len(set(ids))
    assert [m.score for m in res] == sorted((m.score for m in res), reverse=True)
    assert set(ids[:4]) == {5, 6, 7, 37}


# ---------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "names",
    [
        ["Лебедевка", "Лебедівка", "Lebedevka", "Lebedivka"],
        ["Суджа", "Sudzha", "Sudja", "Sudža"],
        ["Konstantinovka", "Kostiantynivka", "Kostyantynivka", "Костянтинівка", "Константиновка"],
        ["Cherkasskoye Porechnoye", "Cherkaske Porichne", "Черкасское Поречное"],
        ["Malaya Loknya", "Мала Локня", "Малая Локня"],
        ["Kharkiv", "Kharkov", "Харків", "Харьков"],
        ["Zaporizhzhia", "Zaporozhye", "Запоріжжя", "Запорожье", "Zaporizhzhya"],
        ["Kyiv", "Kiev", "Київ", "Киев"],
        ["Kupiansk", "Kupyansk", "Купянск", "Куп'янськ", "Kupjansk"],
        ["Avdiivka", "Avdeyevka", "Avdiyivka", "Авдіївка"],
        ["Velyka Novosilka", "Velikaya Novoselka", "Велика Новосілка"],
        ["Huliaipole", "Gulyaipole", "Hulyaypole", "Гуляйполе"],
        ["Vovchansk", "Volchansk", "Vovchans'k", "Вовчанськ"],
        ["Mykolaiv", "Nikolaev", "Mykolayiv", "Миколаїв"],
        ["Vuhledar", "Ugledar", "Вугледар"],
        ["Oleksandrivka", "Aleksandrovka", "Олександрівка"],
        ["Zhovti Vody", "Zheltyye Vody", "Желтые Воды"],
    ],
    ids=lambda names: names[0],
)
def test_variant_spellings_share_a_key(names):
    keys = {match_key(n) for n in names}
    assert len(keys) == 1, {n: match_key(n) for n in names}


@pytest.mark.parametrize(
    "a,b",
    [
        ("Lebedivka", "Lebedyn"),
        ("Novoselka", "Novoselki"),
        ("Pokrovsk", "Pokrovske"),
        ("Sumy", "Sumivka"),
        ("Malaya Loknya", "Bolshaya Loknya"),
        ("Kharkiv", "Kharkivka"),
    ],
)
def test_different_names_have_different_keys(a, b):
    assert match_key(a) != match_key(b)
    assert similarity(a, b) < 0.9


def test_normalise():
    assert normalise("Костянтинівка") == "kostiantynivka"  # Ukrainian official system
    assert normalise("Константиновка") == "konstantinovka"
    assert normalise("Суджа") == "sudzha"
    assert normalise("Vovchans'k") == "vovchansk"
    assert normalise("Куп’янськ") == "kupiansk"
    assert normalise("Юнаківка") == "yunakivka"
    assert normalise("  Nikolaevo-Darino ") == "nikolaevo darino"
    assert normalise("Sudža") == "sudzha"
    assert normalise("Łódź") == "lodz"
    assert normalise("") == ""
    with pytest.raises(TypeError):
        normalise(None)  # type: ignore[arg-type]


def test_similarity_bands():
    assert similarity("Sumy", "sumy") == 1.0
    assert 0.9 <= similarity("Kostiantynivka", "Konstantinovka") < 1.0
    assert similarity("Vovchansk", "Vovchanka") <= 0.85
    assert similarity("Kharkiv", "Blorptown") < 0.5
    assert similarity("", "") == 0.0


def _dp_levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcde", max_size=12), st.text(alphabet="abcde", max_size=12))
def test_levenshtein_matches_reference(a, b):
    assert levenshtein(a, b) == _dp_levenshtein(a, b)
    assert levenshtein(a, b) == levenshtein(b, a)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20))
def test_similarity_is_symmetric_and_bounded(a, b):
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == pytest.approx(similarity(b, a))


def test_long_keys_beyond_one_machine_word():
    a = "Novooleksandrivka Kostiantynivka Velyka Novosilka Pokrovsk" * 2
    b = a.replace("Pokrovsk", "Pokrovske")
    assert levenshtein(a, b) == _dp_levenshtein(a, b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("abcXYZ -_'’.\n\t,éžłКиївсья0")), max_size=12), max_size=8))
def test_batch_normalisation_equals_one_by_one(names):
    from frontline.names import _normalise_many

    assert _normalise_many(names) == [normalise(n) for n in names]


# ------------------------------------------------------------- official Ukrainian romanisation (KMU No. 55)

from frontline.names import KEY_BAND, romanise_uk  # noqa: E402

# Real names with their official Latin forms (as on Ukrainian road signs and in the State Register).
KMU_PAIRS = [
    ("Згурівка", "Zghurivka"),
    ("Журівка", "Zhurivka"),
    ("Яготин", "Yahotyn"),
    ("Знам'янка", "Znamianka"),
    ("Вугледар", "Vuhledar"),
    ("Суджа", "Sudzha"),
    ("Єнакієве", "Yenakiieve"),
    ("Їжакевичі", "Yizhakevychi"),
    ("Йосипівка", "Yosypivka"),
    ("Ясинувата", "Yasynuvata"),
    ("Юнаківка", "Yunakivka"),
    ("Куп'янськ", "Kupiansk"),
    ("Покровськ", "Pokrovsk"),
    ("Гуляйполе", "Huliaipole"),
    ("Щастя", "Shchastia"),
    ("Запоріжжя", "Zaporizhzhia"),
    ("Костянтинівка", "Kostiantynivka"),
    ("Кропивницький", "Kropyvnytskyi"),
    ("Авдіївка", "Avdiivka"),
    ("Часів Яр", "Chasiv Yar"),
    ("Подвір'ївка", "Podvirivka"),
    ("Київ", "Kyiv"),
    ("Розгін", "Rozghin"),
]


@pytest.mark.parametrize("cyr,lat", KMU_PAIRS, ids=[c for c, _ in KMU_PAIRS])
def test_romanise_uk_official_pairs(cyr, lat):
    assert romanise_uk(cyr) == lat


@pytest.mark.parametrize("cyr,lat", KMU_PAIRS, ids=[c for c, _ in KMU_PAIRS])
def test_normalise_follows_the_official_rules_for_ukrainian(cyr, lat):
    # normalise guesses the language; names with і/ї/є/ґ or the apostrophe are Ukrainian and give the
    # official form; the others at least share its match key
    if any(ch in cyr for ch in "іїєґ'"):
        assert normalise(cyr) == normalise(lat)
    assert match_key(cyr) == match_key(lat)


def test_zgh_keeps_zghurivka_and_zhurivka_apart():
    assert normalise("Згурівка") == "zghurivka" and normalise("Журівка") == "zhurivka"
    assert match_key("Згурівка") != match_key("Журівка")
    assert match_key("Zghurivka") == match_key("Згуровка")  # the Russian form of the same town
    assert similarity("Згурівка", "Zhurivka") < KEY_BAND


def test_russian_letters():
    assert normalise("Артёмовск") == "artemovsk"  # ё after a consonant, as GeoNames writes it
    assert normalise("Ёлкино") == "yolkino"  # ё at a word start
    assert normalise("Подъячево") == "podyachevo"  # ъ dropped
    assert normalise("Нижнеэльзино") == "nizhneelzino"  # э, ь
    assert normalise("Малые Крыши") == "malyye kryshi"  # ы, е after a vowel
    assert match_key("Угледар") == match_key("Вугледар") == match_key("Vuhledar") == match_key("Ugledar")


def test_romanise_uk_case_and_other_text():
    assert romanise_uk("ЗГУРІВКА") == "ZGHURIVKA"
    assert romanise_uk("Нова Яготинка-2") == "Nova Yahotynka-2"
    assert romanise_uk("м. Щастя") == "m. Shchastia"
