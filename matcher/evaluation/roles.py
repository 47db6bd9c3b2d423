"""An organisation's role (CORDIS `activityType`) guessed from its legal name, for project tables
that do not carry it (the evaluation's cleantech extract lists organisations by name only).

Legal names say a lot: "UNIVERSITAET POTSDAM" teaches, "CUREVISION GMBH" sells, "MAX-PLANCK-
GESELLSCHAFT" researches, "KATOWICE - MIASTO" governs. The rules below are checked in order (a
"... RESEARCH INSTITUTE LTD" is a company; a "UNIVERSITY ... INSTITUTE" is a university); a name
that matches none is left without a role, never put in OTH by default. The evaluation reports the
guess's agreement with CORDIS's own codes where a table has them (tests/test_signals.py).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["guess_role"]


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Z0-9])(?:" + "|".join(patterns) + r")(?![A-Z0-9])")


_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("REC", _words(r"G ?GMBH", r"E ?V", r"GESELLSCHAFT ZUR FORDERUNG.*")),  # non-profit research bodies
    ("HES", _words(
        r"UNIVERSI\w*", r"UNIWERSYTET\w*", r"UNIVERZ\w*", r"YLIOPISTO", r"EGYETEM\w*", r"PANEPISTIMIO\w*",
        r"SVEUCILIST\w*", r"HOCHSCHULE\w*", r"HOGESCHOOL", r"HOGSKOL\w*", r"HOGSKULE\w*", r"COLLEGE",
        r"POLITECNIC\w*", r"POLITECHNIKA", r"POLYTECHNI\w*", r"ECOLE", r"SCHOOL", r"SCUOLA", r"ESCUELA",
        r"INSTITUTO SUPERIOR\w*", r"FACULT\w*", r"FAKULT\w*", r"AKADEMIA GORNICZO", r"KORKEAKOULU",
    )),
    ("PRC", _words(
        r"GMBH", r"AG", r"KG", r"S ?A", r"S ?P ?A", r"S ?R ?L", r"S ?L", r"S ?L ?U", r"S ?A ?S", r"SARL", r"LTD",
        r"LIMITED", r"PLC", r"B ?V", r"N ?V", r"AB", r"OY", r"OYJ", r"A ?S", r"APS", r"AS", r"KFT", r"ZRT",
        r"SP Z O ?O", r"S ?R ?O", r"D ?O ?O", r"INC", r"LLC", r"CORPORATION", r"CORP", r"OU", r"UAB", r"SIA",
        r"IKE", r"EPE", r"AE", r"LDA", r"OOD", r"EOOD", r"SE", r"SPOLKA AKCYJNA", r"COMPANY",
    )),
    ("REC", _words(
        r"INSTITU\w*", r"INSTYTUT\w*", r"RESEARCH", r"FORSCHUNG\w*", r"RECHERCHE\w*", r"INVESTIGACI\w*",
        r"RICERC\w*", r"ONDERZOEK", r"FRAUNHOFER", r"HELMHOLTZ", r"MAX.PLANCK\w*", r"TNO", r"VTT", r"SINTEF",
        r"CNRS", r"CONSIGLIO NAZIONALE", r"COMMISSARIAT", r"LABORATOR\w*", r"ZENTRUM", r"CENTRUM", r"CENTRE",
        r"CENTER", r"CENTRO", r"ACADEMY OF SCIENCES", r"AKADEMIE", r"TECNALIA", r"JOINT RESEARCH",
        r"TEKNOLOGISK", r"EREVNAS", r"ERKUNDUNG", r"BADAN",
    )),
    ("PUB", _words(
        r"MINIST\w*", r"MUNICIP\w*", r"COMUNE", r"AYUNTAMIENTO", r"GEMEENTE", r"STADT", r"CITY OF", r"MIASTO",
        r"COUNTY", r"COUNCIL", r"GOVERNMENT", r"AUTHORITY", r"DIRECTORATE", r"PROVINCI\w*", r"REGION\w*",
        r"SERVICE PUBLIC", r"GENERALITAT", r"AGENCY", r"AGENCIA", r"AGENZIA", r"AGENCE",
    )),
    ("OTH", _words(
        r"ASSOCIA\w*", r"ASOCIACION", r"ASBL", r"VZW", r"STICHTING", r"FOUNDATION", r"FONDATION", r"FUNDACION",
        r"FONDAZIONE", r"CLUSTER\w*", r"FEDERA\w*", r"NETWORK", r"PLATFORM", r"EUROPEAN .* ORGANISATION",
    )),
)


def _fold(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", ascii_name).split())


def guess_role(name: str) -> str | None:
    """HES, REC, PRC, PUB or OTH as the legal name suggests; None when it suggests nothing."""
    folded = _fold(name)
    for role, pattern in _RULES:
        if pattern.search(folded):
            return role
    return None
