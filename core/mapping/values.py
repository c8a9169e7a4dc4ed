"""What a column's values look like: the share that are emails, phones, countries, dates, numbers, booleans.

Each measure runs with pyarrow on the whole column, once, when first asked. :class:`ColumnValues`
tells how well a column fits an attribute (and the conversion it needs, such as a date format);
:mod:`core.mapping.suggest` weighs that against what the column's name says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.mapping import convert
from core.mapping.schema import Attribute

#: The share of values from which they agree with a name.
AGREES = 0.8

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$"
# A phone number starts with +, ( or 0, or is digit groups ("555-123-4567"); a plain number
# ("1000234") is more often an id. Dates, which look alike, are excluded separately.
_PHONE = r"^(?:[+(]|0)[\d\s().\-/]{6,22}$|^\d{2,4}[\s\-]\d{2,4}[\s\-][\d\s\-]{2,12}$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
_NUMERIC_DATE = (
    r"^(?P<first>\d{1,2})(?P<sep>[/.\-])(?P<second>\d{1,2})[/.\-](?P<year>\d{4}|\d{2})"
    r"(?P<time>[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_TWO_SEPARATORS = r"\d[/.-]\d+[/.-]\d"
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
# Phones, dates and numbers start with one of these: a cheap test that spares the regexes.
_NUMERIC_STARTS = pa.array(list("0123456789+(-."))
_BOOLEAN_WORDS = pa.array([*convert.TRUE_WORDS, *convert.FALSE_WORDS])
# ISO 3166-1 alpha-2; a list literal of 249 quoted codes would be harder to read.
_COUNTRY_CODES = pa.array(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES
    ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL
    IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC
    MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA
    PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS
    ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF
    WS YE YT ZA ZM ZW""".split()  # noqa: SIM905
)
# Country names a customer file is likely to hold, in English and local forms. They fit a
# country-code attribute only once converted, so they count for less than codes.
_COUNTRY_NAMES = pa.array(
    re.split(
        r"\s*\|\s*",
        """germany | deutschland | france | spain | españa | espana | italy | italia | poland | polska |
        netherlands | the netherlands | nederland | holland | belgium | belgique | belgië | luxembourg |
        austria | österreich | switzerland | schweiz | suisse | portugal | ireland | united kingdom | uk |
        great britain | britain | england | scotland | wales | denmark | danmark | sweden | sverige | norway |
        norge | finland | suomi | iceland | czech republic | czechia | slovakia | hungary | romania |
        bulgaria | greece | croatia | slovenia | estonia | latvia | lithuania | cyprus | malta | turkey |
        türkiye | ukraine | russia | united states | united states of america | usa | america | canada |
        mexico | brazil | argentina | chile | colombia | peru | australia | new zealand | japan | china |
        india | south korea | korea | singapore | hong kong | taiwan | indonesia | malaysia | thailand |
        vietnam | philippines | israel | united arab emirates | uae | saudi arabia | qatar | egypt |
        morocco | tunisia | algeria | south africa | nigeria | kenya""",
    )
)
_NAME_WEIGHT = 0.8
_BIRTH_YEARS = (1900, pd.Timestamp.now().year - 10)
_DATES_FROM = 0.5  # share of date-shaped values from which a column is read as dates
_FALLBACK_ROWS = 200


@dataclass(frozen=True)
class Fit:
    """How well a column's values fit an attribute, and the conversion they need, if any."""

    share: float
    #: "98% of values look like email addresses"; "only 3% of values ..." when they do not fit.
    says: str
    #: The expression around the column, ``{}`` standing for it: "to_date({}, '%d/%m/%Y')".
    conversion: str | None = None


@dataclass(frozen=True)
class _Dates:
    """A column's dates: their share, the format they need, and the share that may be birth dates."""

    share: float
    #: A strftime format to give the mapper; None when it reads the values as they are.
    format: str | None = None
    written: str = "ISO 8601 dates"
    birth_share: float = 0.0
    years: tuple[int, int] = (0, 0)


def _says(share: float, what: str) -> str:
    """ "92% of values look like ..."; "only 3% of values ..." below the agreement share."""
    return f"{'' if share >= AGREES else 'only '}{share:.0%} of values {what}"


def _count(mask: pa.Array) -> int:
    """Number of true values in a boolean array."""
    return int(pc.sum(mask).as_py() or 0)


def _most_common(values: pa.Array) -> str:
    """The most frequent value of a non-empty array, as text."""
    counts = pc.value_counts(values)
    return str(counts.field("values")[int(np.argmax(counts.field("counts")))].as_py())


class ColumnValues:
    """What one column's values look like; each measure runs on the whole column, when first asked."""

    def __init__(self, values: pd.Series) -> None:
        self.values = values
        self.kind = convert.kind(values)
        self.text = _present_text(values) if self.kind in ("string", "other") else pa.array([], pa.string())
        self.count = len(self.text) if self.kind in ("string", "other") else int(values.notna().sum())

    def share(self, mask: pa.Array) -> float:
        """The share of the values a mask marks."""
        return _count(mask) / self.count if self.count else 0.0

    @cached_property
    def numeric_start(self) -> bool:
        """Whether any value starts like a number, phone or date (else none of them is one)."""
        first = pc.utf8_slice_codeunits(self.text, 0, 1)
        return bool(pc.any(pc.is_in(first, value_set=_NUMERIC_STARTS)).as_py())

    @cached_property
    def email(self) -> float:
        if not pc.any(pc.match_substring(self.text, "@")).as_py():
            return 0.0
        return self.share(pc.match_substring_regex(self.text, _EMAIL))

    @cached_property
    def phone(self) -> float:
        if not self.numeric_start:
            return 0.0
        iso, parts = self._date_shapes
        phones = pc.and_not(pc.match_substring_regex(self.text, _PHONE), iso)
        return self.share(pc.and_not(phones, pc.is_valid(parts)))

    @cached_property
    def countries(self) -> tuple[float, float]:
        """Shares of ISO 3166 alpha-2 codes (any case) and of country names."""
        codes = self.share(pc.is_in(pc.utf8_upper(self.text), value_set=_COUNTRY_CODES))
        names = self.share(pc.is_in(pc.utf8_lower(self.text), value_set=_COUNTRY_NAMES))
        return codes, names

    @cached_property
    def _date_shapes(self) -> tuple[pa.Array, pa.Array]:
        """Which values are ISO 8601 dates, and the parts of day/month/year dates (null elsewhere)."""
        iso = pa.array(np.zeros(len(self.text), dtype=bool))
        parts = pa.nulls(len(self.text), pa.bool_())
        # Cheap tests spare the regexes: "2024-" starts every ISO date, two separators mark the others.
        if self.numeric_start and pc.any(pc.equal(pc.utf8_slice_codeunits(self.text, 4, 5), "-")).as_py():
            iso = pc.match_substring_regex(self.text, _ISO_DATE)
        not_iso = self.numeric_start and self.share(iso) < _DATES_FROM
        if not_iso and pc.any(pc.match_substring_regex(self.text, _TWO_SEPARATORS)).as_py():
            parts = pc.extract_regex(self.text, _NUMERIC_DATE)
        return iso, parts

    @cached_property
    def dates(self) -> _Dates:
        """The values' dates: ISO 8601, or day and month in either order, then the year."""
        if self.kind == "datetime":
            return _Dates(1.0, written="dates")
        iso, parts = self._date_shapes
        numeric = pc.is_valid(parts)
        if not _count(numeric) and not _count(iso):
            return _Dates(0.0)
        if _count(numeric) <= _count(iso):
            matched = self.text.filter(iso)
            years = pc.cast(pc.utf8_slice_codeunits(matched, 0, 4), pa.int64())
            return self._birth(_Dates(self.share(iso)), years, pc.match_substring(matched, ":"))
        fmt = _date_format(parts.filter(numeric))
        # pyarrow rolls 31/02 over to 2 March where pandas refuses it: the share is an estimate,
        # and the mapper still quarantines such rows.
        parsed = pc.strptime(self.text, format=fmt, unit="s", error_is_null=True)
        valid = pc.is_valid(parsed)
        written = "dates written like " + pd.Timestamp("1990-12-31 23:59:58").strftime(fmt)
        timed = pa.array(np.full(_count(valid), ":" in fmt))
        return self._birth(_Dates(self.share(valid), fmt, written), pc.year(parsed.filter(valid)), timed)

    def _birth(self, dates: _Dates, years: pa.Array, timed: pa.Array) -> _Dates:
        """Adds the share of dates, without a time, in years a living customer was born in."""
        low, high = _BIRTH_YEARS
        born = pc.and_not(pc.and_(pc.greater_equal(years, low), pc.less_equal(years, high)), timed)
        if not _count(born):
            return dates
        span = (int(pc.min(years.filter(born)).as_py()), int(pc.max(years.filter(born)).as_py()))
        return _Dates(dates.share, dates.format, dates.written, self.share(born), span)

    @cached_property
    def numbers(self) -> np.ndarray:
        """The values as floats, NaN where a value is not a number."""
        if self.kind in ("number", "boolean"):
            present = self.values[self.values.notna()]
            return present.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        if not self.numeric_start:
            return np.full(self.count, np.nan)
        matches = pc.match_substring_regex(self.text, _NUMBER)
        numbers = pc.cast(pc.if_else(matches, self.text, pa.scalar(None, self.text.type)), pa.float64())
        return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=float)

    @cached_property
    def booleans(self) -> float:
        if self.kind == "boolean":
            return 1.0
        if self.kind == "number":
            return float(np.isin(self.numbers, (0.0, 1.0)).sum()) / self.count
        return self.share(pc.is_in(pc.utf8_lower(self.text), value_set=_BOOLEAN_WORDS))

    def format_share(self, format_: str) -> tuple[float, str]:
        """The share of values in an attribute format, and what that says about them."""
        if format_ == "email":
            return self.email, _says(self.email, "look like email addresses")
        if format_ == "phone":
            return self.phone, _says(self.phone, "look like phone numbers")
        if format_ == "country_code":
            codes, names = self.countries
            if codes >= names:
                return codes, _says(codes, "are ISO country codes")
            return codes + _NAME_WEIGHT * names, _says(names, "are country names, not ISO codes")
        low, high = self.dates.years
        return self.dates.birth_share, _says(
            self.dates.birth_share, f"are dates from {low} to {high}, like birth dates"
        )

    def fit(self, attribute: Attribute) -> Fit | None:
        """How well the values fit an attribute; None when there is nothing to tell."""
        if not self.count:
            return None
        if attribute.format in ("email", "phone", "country_code"):
            return Fit(*self.format_share(attribute.format))
        if attribute.type in ("date", "timestamp"):
            return self._date_fit("to_date" if attribute.type == "date" else "to_timestamp")
        if attribute.type == "boolean":
            return Fit(self.booleans, _says(self.booleans, "are true/false values"))
        if attribute.type in ("integer", "number"):
            finite = np.isfinite(self.numbers)
            if attribute.type == "integer":
                share = float((finite & (self.numbers == np.floor(self.numbers))).sum()) / self.count
                return Fit(share, _says(share, "are whole numbers"))
            share = float(finite.sum()) / self.count
            return Fit(share, _says(share, "are numbers"))
        if self.email >= AGREES:  # text such as a name, holding something else
            return Fit(1 - self.email, f"{self.email:.0%} of values look like email addresses")
        if self.dates.share >= AGREES:
            return Fit(1 - self.dates.share, f"{self.dates.share:.0%} of values are dates")
        return None

    def _date_fit(self, function: str) -> Fit:
        """Dates as they are, with the format they need, as Unix times, or as the mapper reads them."""
        dates, numbers = self.dates, self.numbers
        seconds = float(((numbers >= 1e9) & (numbers < 4.2e9)).sum()) / self.count
        millis = float(((numbers >= 1e12) & (numbers < 4.2e12)).sum()) / self.count
        if max(seconds, millis) > dates.share:
            unit, share = ("unix", seconds) if seconds >= millis else ("unix_ms", millis)
            what = f"are Unix times in {'seconds' if unit == 'unix' else 'milliseconds'}"
            return Fit(share, _says(share, what), f"{function}({{}}, '{unit}')")
        if dates.share < _DATES_FROM and self.kind in ("string", "other"):
            # Other forms ("Jan 5 2024") the mapper parses one by one, which is slow: judge a few.
            head = pd.Series(self.text[:_FALLBACK_ROWS].to_pylist(), dtype=convert.STRING)
            share = 1 - float(convert.to_timestamp(head).failed.mean())
            if share > dates.share:
                return Fit(share, _says(share, "are dates"))
        conversion = None if dates.format is None else f"{function}({{}}, '{dates.format}')"
        return Fit(dates.share, _says(dates.share, f"are {dates.written}"), conversion)


def _present_text(values: pd.Series) -> pa.Array:
    """The non-blank values as trimmed pyarrow strings."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        text = pa.array(values.array)  # no copy
    else:
        text = pa.array(convert.as_string(values).array)
    text = pc.utf8_trim_whitespace(pc.drop_null(text))
    return text.filter(pc.greater(pc.binary_length(text), 0))


def _date_format(parts: pa.StructArray) -> str:
    """The strftime format of day/month/year dates, from their parts (at least one date).

    Day first, unless a second number above 12 shows month first; when no
    number is above 12 the order cannot be told and day first is assumed.
    """
    first = pc.cast(parts.field("first"), pa.int64())
    second = pc.cast(parts.field("second"), pa.int64())
    month_first = pc.max(second).as_py() > 12 and pc.max(first).as_py() <= 12
    separator = _most_common(parts.field("sep"))
    year = "%Y" if _most_common(pc.utf8_length(parts.field("year"))) == "4" else "%y"
    fmt = separator.join(["%m", "%d", year] if month_first else ["%d", "%m", year])
    times = parts.field("time").filter(pc.greater(pc.binary_length(parts.field("time")), 0))
    if 2 * len(times) > len(parts):
        shape = _most_common(pc.replace_substring_regex(times, r"\d+", "9"))
        fmt += shape[0] + ("%H:%M:%S" if shape.count(":") == 2 else "%H:%M")
    return fmt
