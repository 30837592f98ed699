{#
  Text helpers for invoice line descriptions, dispatched by adapter. Numbers are formatted from
  their decimal text (never through DOUBLE): thousands separators in the integer part, and at
  least `min_decimals` fraction digits (more only when the value really has them, e.g. a unit
  price of $0.0125).
#}

{# a decimal or integer -> '1,234.50' with at least `min_decimals` fraction digits #}
{% macro format_decimal(value, min_decimals) -%}
    {{ return(adapter.dispatch('format_decimal', 'billing_warehouse')(value, min_decimals)) }}
{%- endmacro %}

{% macro duckdb__format_decimal(value, min_decimals) -%}
    {%- set abs_text = "cast(abs(cast(" ~ value ~ " as " ~ money_unrounded_type() ~ ")) as varchar)" -%}
    {%- set frac = "rtrim(split_part(" ~ abs_text ~ ", '.', 2), '0')" -%}
    (
        case when cast({{ value }} as {{ money_unrounded_type() }}) < 0 then '-' else '' end
        || format('{:,}', cast(split_part({{ abs_text }}, '.', 1) as hugeint))
        || case
            when greatest(length({{ frac }}), {{ min_decimals }}) > 0
            then '.' || rpad({{ frac }}, cast(greatest(length({{ frac }}), {{ min_decimals }}) as integer), '0')
            else ''
        end
    )
{%- endmacro %}

{% macro default__format_decimal(value, min_decimals) -%}
    cast({{ value }} as string)
{%- endmacro %}

{#
  money text with the currency symbol: '$1,234.50', '¥1,200', '-€5.00', 'CHF 12.00'.
  A symbol ending in a letter gets a space before the number.
#}
{% macro format_money(value, minor_unit, symbol) -%}
    (
        case when cast({{ value }} as {{ money_unrounded_type() }}) < 0 then '-' else '' end
        || coalesce({{ symbol }}, '')
        || case when lower(right(coalesce({{ symbol }}, ''), 1)) <> upper(right(coalesce({{ symbol }}, ''), 1)) then ' ' else '' end
        || {{ format_decimal('abs(cast(' ~ value ~ ' as ' ~ money_unrounded_type() ~ '))', minor_unit) }}
    )
{%- endmacro %}

{# 'proposal_submitted' -> 'Proposal submitted' #}
{% macro humanize_label(value) -%}
    (upper(left(replace({{ value }}, '_', ' '), 1)) || substr(replace({{ value }}, '_', ' '), 2))
{%- endmacro %}

{# a decimal fraction as a percent: 0.025 -> '2.5%' #}
{% macro format_percent(fraction) -%}
    ({{ format_decimal('cast(' ~ fraction ~ ' as ' ~ money_unrounded_type() ~ ') * 100', 0) }} || '%')
{%- endmacro %}

{# an instant as ISO-8601 UTC text: '2026-10-03T12:05:00Z' (microseconds only when present) #}
{% macro iso_utc(ts) -%}
    {{ return(adapter.dispatch('iso_utc', 'billing_warehouse')(ts)) }}
{%- endmacro %}

{% macro duckdb__iso_utc(ts) -%}
    case
        when microsecond(timezone('UTC', {{ ts }})) % 1000000 = 0
        then strftime(timezone('UTC', {{ ts }}), '%Y-%m-%dT%H:%M:%SZ')
        else strftime(timezone('UTC', {{ ts }}), '%Y-%m-%dT%H:%M:%S.%fZ')
    end
{%- endmacro %}
