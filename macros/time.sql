{#
  Time-zone helpers, dispatched by adapter. Timestamps are stored as UTC instants
  (timestamptz); entity-local wall-clock times are plain timestamps.
#}

{# instant (timestamptz) -> local wall-clock timestamp in the IANA zone `tz` #}
{% macro to_local(ts, tz) -%}
    {{ return(adapter.dispatch('to_local', 'billing_warehouse')(ts, tz)) }}
{%- endmacro %}
{% macro duckdb__to_local(ts, tz) -%}timezone({{ tz }}, {{ ts }}){%- endmacro %}
{% macro spark__to_local(ts, tz) -%}from_utc_timestamp({{ ts }}, {{ tz }}){%- endmacro %}

{#
  local wall-clock timestamp in `tz` -> instant (timestamptz). A wall-clock time that happens
  twice (clocks going back) is its FIRST instant, as Python's zoneinfo (fold=0) reads it: local
  midnight of Nov 1 in America/Havana, where clocks go back from 01:00 to 00:00 that night, is
  04:00Z, the first moment the clock reads 00:00 (and the moment from which events fall in
  November). DuckDB's timezone() returns the later instant; the earlier one is 1 hour (or, on
  Lord Howe Island, 30 minutes) before it when that shows the same wall-clock time.
  A wall-clock time that does not happen (clocks going forward) is read with the offset before
  the change (DuckDB and zoneinfo agree).
#}
{% macro from_local(local_ts, tz) -%}
    {{ return(adapter.dispatch('from_local', 'billing_warehouse')(local_ts, tz)) }}
{%- endmacro %}
{% macro duckdb__from_local(local_ts, tz) -%}
    {%- set wall = 'cast(' ~ local_ts ~ ' as timestamp)' -%}
    {%- set later = 'timezone(' ~ tz ~ ', ' ~ wall ~ ')' -%}
    (case
        when timezone({{ tz }}, {{ later }} - interval 1 hour) = {{ wall }}
            then {{ later }} - interval 1 hour
        when timezone({{ tz }}, {{ later }} - interval 30 minute) = {{ wall }}
            then {{ later }} - interval 30 minute
        else {{ later }}
    end)
{%- endmacro %}
{% macro spark__from_local(local_ts, tz) -%}to_utc_timestamp({{ local_ts }}, {{ tz }}){%- endmacro %}

{# the billing period name 'YYYY-MM' of an instant, in the IANA zone `tz` #}
{% macro period_of(ts, tz) -%}
    {{ return(adapter.dispatch('period_of', 'billing_warehouse')(ts, tz)) }}
{%- endmacro %}
{% macro duckdb__period_of(ts, tz) -%}strftime({{ to_local(ts, tz) }}, '%Y-%m'){%- endmacro %}
{% macro spark__period_of(ts, tz) -%}date_format({{ to_local(ts, tz) }}, 'yyyy-MM'){%- endmacro %}

{#
  Parse an ISO-8601 timestamp that must carry an offset (+02:00, +0200, Z) from -18:00 to
  +18:00 with minutes 00-59; anything else, including a timestamp without an offset or with an
  impossible one (+25:00, +02:99), gives null.
#}
{% macro parse_timestamptz(raw) -%}
    {{ return(adapter.dispatch('parse_timestamptz', 'billing_warehouse')(raw)) }}
{%- endmacro %}
{% macro duckdb__parse_timestamptz(raw) -%}
    case
        when regexp_matches(trim({{ raw }}), '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-](0\d|1[0-7])(:?[0-5]\d)?|[+-]18(:?00)?)$')
        then try_cast(trim({{ raw }}) as timestamptz)
    end
{%- endmacro %}

{# the as_of instant: var('as_of') when set, else the run's start #}
{% macro as_of() -%}
    {%- if var('as_of', '') -%}
        cast('{{ var("as_of") }}' as timestamptz)
    {%- else -%}
        cast('{{ run_started_at.isoformat() }}' as timestamptz)
    {%- endif -%}
{%- endmacro %}

{# an instant (timestamptz) as integer microseconds since 1970-01-01 UTC #}
{% macro epoch_us(ts) -%}
    {{ return(adapter.dispatch('epoch_us', 'billing_warehouse')(ts)) }}
{%- endmacro %}
{% macro duckdb__epoch_us(ts) -%}epoch_us({{ ts }}){%- endmacro %}
{% macro spark__epoch_us(ts) -%}unix_micros({{ ts }}){%- endmacro %}
