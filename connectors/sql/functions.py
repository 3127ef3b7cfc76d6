"""Functions a read-only query may call: allow-lists per dialect, nothing else.

A function call in a parsed query is either a sqlglot class (sqlglot recognised it and will
render it in the connector's dialect) or `Anonymous` (sqlglot passes the name through).
Classes are allowed from `ALLOWED_CLASSES`; anonymous names from the dialect's set in
`ALLOWED_NAMES`. Both hold only functions without side effects: no file access, sleeping,
locks, sequences, session settings, notifications, network or dynamic SQL. Left out on
purpose although harmless in small doses: functions that build arbitrarily large values in
one call (repeat, lpad/rpad, space, zeroblob, randomblob).

`SQLITE_FUNCTIONS` is what SQLite's authorizer lets run: the real SQLite names, checked a
second time at prepare, whatever the parser made of the text.
"""

from __future__ import annotations

from sqlglot import exp

_CLASS_NAMES = """
And Or Xor Case If Coalesce Nullif Greatest Least Nvl2 Exists Cast TryCast Collate Convert

Count CountIf Sum Avg Min Max Median AnyValue ArrayAgg GroupConcat Stddev StddevPop StddevSamp
Variance VariancePop PercentileCont PercentileDisc Corr CovarPop CovarSamp LogicalAnd LogicalOr
BitwiseAndAgg BitwiseOrAgg BitwiseXorAgg JSONArrayAgg JSONObjectAgg JSONBObjectAgg Grouping

RowNumber Rank DenseRank PercentRank CumeDist Ntile Lag Lead FirstValue LastValue NthValue

Lower Upper Length ByteLength BitLength Substring SubstringIndex Concat ConcatWs Trim Replace
Left Right Initcap Reverse StrPosition SplitPart Ascii Chr Unicode Translate Overlay StartsWith
EndsWith RegexpLike RegexpILike RegexpReplace RegexpExtract RegexpSubstr RegexpCount RegexpInstr
MD5 SHA SHA2 Hex Unhex LowerHex ToBase64 FromBase64 Encode Decode Levenshtein Soundex ToChar
ToNumber Typeof Format

Abs Ceil Floor Round Trunc Sqrt Cbrt Pow Exp Ln Log Sign Pi Degrees Radians Sin Cos Tan Asin
Acos Atan Atan2 Cot Sinh Cosh Tanh Rand WidthBucket IsNan IsInf

CurrentDate CurrentTime CurrentTimestamp CurrentDatetime Localtime Localtimestamp UtcDate UtcTime
UtcTimestamp DateTrunc TimestampTrunc DatetimeTrunc TimeTrunc Extract DateAdd DateSub DateDiff
DatetimeAdd DatetimeSub DatetimeDiff TimestampAdd TimestampSub TimestampDiff TimeAdd TimeSub
TimeDiff Date Time Timestamp Datetime Year Quarter Month Week WeekOfYear Day DayOfMonth DayOfWeek
DayOfWeekIso DayOfYear Hour Minute Second Dayname Monthname LastDay AddMonths MonthsBetween
StrToDate StrToTime StrToUnix TimeToStr TimeToUnix TimeStrToDate TimeStrToTime TimeStrToUnix
UnixToStr UnixToTime UnixToTimeStr DateStrToDate DateToDateStr TsOrDsAdd TsOrDsDiff TsOrDsToDate
TsOrDsToDateStr TsOrDsToTime TsOrDsToTimestamp TsOrDsToDatetime DateFromParts TimestampFromParts
MakeInterval JustifyDays JustifyHours JustifyInterval

GenerateSeries ExplodingGenerateSeries Unnest Explode Array ArrayContains ArrayContainsAll
ArrayContainedBy ArrayOverlaps ArraySize ArrayToString StringToArray ArrayConcat ArrayPosition
ArrayAppend ArrayPrepend ArrayRemove

JSONExtract JSONExtractScalar JSONBExtract JSONBExtractScalar JSONBContains JSONBExists
JSONBContainsAnyTopKeys JSONBContainsAllTopKeys JSONBContainsTopKey JSONObject JSONArray
JSONFormat JSONType JSONKeys JSONArrayContains JSONExists ParseJSON

CurrentUser SessionUser CurrentSchema CurrentDatabase CurrentCatalog Uuid
"""

ALLOWED_CLASSES: frozenset[type[exp.Func]] = frozenset(
    getattr(exp, name) for name in _CLASS_NAMES.split() if hasattr(exp, name)
)
"""sqlglot function classes that render as side-effect-free calls in every dialect used here."""

_WINDOW_AND_AGGREGATE = """
count sum avg min max row_number rank dense_rank percent_rank cume_dist ntile lag lead
first_value last_value nth_value coalesce nullif greatest least lower upper length abs round
floor ceil ceiling sqrt exp ln log log10 pi power pow sign mod degrees radians sin cos tan asin
acos atan atan2 cot replace reverse trim ltrim rtrim left right substr substring concat
"""

_POSTGRES = """
age date_part date_trunc date_bin make_date make_time make_timestamp make_timestamptz
make_interval isfinite justify_days justify_hours justify_interval to_timestamp to_date to_number
to_char clock_timestamp statement_timestamp transaction_timestamp now extract
char_length character_length octet_length bit_length btrim strpos position starts_with
split_part string_to_array string_to_table regexp_match regexp_matches regexp_split_to_array
regexp_split_to_table regexp_replace regexp_like regexp_count regexp_instr regexp_substr format
quote_ident quote_literal quote_nullable concat_ws md5 sha224 sha256 sha384 sha512 encode decode
convert_from to_hex initcap translate overlay ascii chr normalize unistr
cbrt div factorial gcd lcm min_scale scale trim_scale trunc width_bucket random sinh cosh tanh
array_agg bit_and bit_or bit_xor bool_and bool_or every json_agg jsonb_agg json_object_agg
jsonb_object_agg string_agg corr covar_pop covar_samp regr_avgx regr_avgy regr_count
regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy stddev stddev_pop stddev_samp
var_pop var_samp variance mode percentile_cont percentile_disc
to_json to_jsonb array_to_json row_to_json json_build_array jsonb_build_array json_build_object
jsonb_build_object json_object jsonb_object json_array_length jsonb_array_length json_each
jsonb_each json_each_text jsonb_each_text json_extract_path jsonb_extract_path
json_extract_path_text jsonb_extract_path_text json_object_keys jsonb_object_keys
json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text
json_typeof jsonb_typeof json_strip_nulls jsonb_strip_nulls jsonb_set jsonb_insert jsonb_pretty
jsonb_path_query jsonb_path_exists jsonb_path_match jsonb_path_query_array jsonb_path_query_first
array_length array_lower array_upper array_ndims array_dims array_position array_positions
array_remove array_replace array_append array_prepend array_cat array_to_string cardinality
unnest generate_series generate_subscripts
pg_typeof num_nonnulls num_nulls gen_random_uuid current_database current_schema
"""

_MYSQL = """
ifnull isnull if strcmp concat_ws char_length character_length octet_length bit_length lcase
ucase mid substring_index locate instr position field find_in_set elt format insert quote soundex
ascii ord char hex unhex bin oct conv to_base64 from_base64 md5 sha sha1 sha2 crc32
regexp_replace regexp_substr regexp_instr regexp_like truncate log2 rand
now curdate current_date curtime current_time current_timestamp localtime localtimestamp
utc_date utc_time utc_timestamp date time timestamp year month day dayofmonth dayofweek dayofyear
weekday week weekofyear yearweek quarter hour minute second microsecond monthname dayname
last_day makedate maketime date_add date_sub adddate subdate addtime subtime datediff timediff
timestampdiff timestampadd date_format time_format str_to_date unix_timestamp from_unixtime
to_days from_days to_seconds sec_to_time time_to_sec period_add period_diff extract convert_tz
get_format group_concat std stddev stddev_pop stddev_samp variance var_pop var_samp bit_and bit_or
bit_xor json_arrayagg json_objectagg any_value
json_extract json_unquote json_object json_array json_contains json_contains_path json_length
json_keys json_value json_type json_valid json_depth json_search json_quote json_query
json_exists json_overlaps json_detailed json_pretty
database schema version uuid inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6 bit_count
charset collation coercibility
"""

_SQLITE = """
char format glob hex ifnull iif instr like likelihood likely octet_length printf quote random
soundex typeof unicode unlikely date time datetime julianday unixepoch strftime timediff
group_concat string_agg total ln log2 trunc sinh cosh tanh acosh asinh atanh
json json_array json_array_length json_extract json_insert json_object json_patch json_remove
json_replace json_set json_type json_valid json_quote json_group_array json_group_object
json_each json_tree -> ->>
"""

ALLOWED_NAMES: dict[str, frozenset[str]] = {
    dialect: frozenset((_WINDOW_AND_AGGREGATE + names).split())
    for dialect, names in (("postgres", _POSTGRES), ("mysql", _MYSQL), ("sqlite", _SQLITE))
}
"""Lower-case names of functions sqlglot does not model, allowed per sqlglot dialect."""

SQLITE_FUNCTIONS: frozenset[str] = ALLOWED_NAMES["sqlite"]
"""What SQLite's authorizer lets run (SQLITE_FUNCTION), by SQLite's own function names."""
