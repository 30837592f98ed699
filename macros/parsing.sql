{#
  Parsing raw VARCHAR cells, dispatched by adapter. Every parser returns null for an empty cell
  and for a value that breaks its rule, so the caller decides what null means (missing or
  invalid). Decimals are parsed from their text straight into decimal(38,12): never through
  DOUBLE.
#}

{# a decimal string (optional sign, digits, optional fraction, optional exponent) -> money_unrounded #}
{% macro parse_decimal(raw) -%}
    {{ return(adapter.dispatch('parse_decimal', 'billing_warehouse')(raw)) }}
{%- endmacro %}
{% macro duckdb__parse_decimal(raw) -%}
    case
        when regexp_full_match({{ raw }}, '\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?\s*')
        then try_cast({{ raw }} as {{ money_unrounded_type() }})
    end
{%- endmacro %}

{#
  an integer string -> bigint. "5", "+5" and "5.0" (an integral JSON number) are integers;
  "2.5", "5e0", "" and anything else give null.
#}
{% macro parse_integer(raw) -%}
    {{ return(adapter.dispatch('parse_integer', 'billing_warehouse')(raw)) }}
{%- endmacro %}
{% macro duckdb__parse_integer(raw) -%}
    case
        when regexp_full_match({{ raw }}, '\s*[+-]?\d{1,18}(\.0*)?\s*')
        then try_cast({{ raw }} as bigint)
    end
{%- endmacro %}

{# a YYYY-MM-DD date string -> date #}
{% macro parse_date(raw) -%}
    {{ return(adapter.dispatch('parse_date', 'billing_warehouse')(raw)) }}
{%- endmacro %}
{% macro duckdb__parse_date(raw) -%}
    case
        when regexp_full_match(trim({{ raw }}), '\d{4}-\d{2}-\d{2}')
        then try_cast(trim({{ raw }}) as date)
    end
{%- endmacro %}

{# true when a raw cell holds nothing (null or only blanks) #}
{% macro is_blank(raw) -%}
    ({{ raw }} is null or trim({{ raw }}) = '')
{%- endmacro %}

{# a decimal as short text for descriptions: no trailing zeros ("0.050000000000" -> "0.05") #}
{% macro decimal_text(value) -%}
    {{ return(adapter.dispatch('decimal_text', 'billing_warehouse')(value)) }}
{%- endmacro %}
{% macro duckdb__decimal_text(value) -%}
    case
        when {{ value }} is not null then
            regexp_replace(regexp_replace(cast({{ value }} as varchar), '(\.\d*?)0+$', '\1'), '\.$', '')
    end
{%- endmacro %}

{# the raw row as a JSON object text, keys in the given order, nulls kept #}
{% macro json_object_text(pairs) -%}
    {{ return(adapter.dispatch('json_object_text', 'billing_warehouse')(pairs)) }}
{%- endmacro %}
{% macro duckdb__json_object_text(pairs) -%}
    cast(json_object(
        {%- for key, expr in pairs %}
        '{{ key }}', {{ expr }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as varchar)
{%- endmacro %}

{# the billing period name 'YYYY-MM' of a local wall-clock timestamp (see period_of) #}
{% macro local_period(local_ts) -%}
    {{ return(adapter.dispatch('local_period', 'billing_warehouse')(local_ts)) }}
{%- endmacro %}
{% macro duckdb__local_period(local_ts) -%}strftime({{ local_ts }}, '%Y-%m'){%- endmacro %}
{% macro spark__local_period(local_ts) -%}date_format({{ local_ts }}, 'yyyy-MM'){%- endmacro %}

{# an event's quantity: 1 when the cell is empty, the value when a positive integer, else null #}
{% macro event_quantity(raw) -%}
    case
        when {{ is_blank(raw) }} then cast(1 as bigint)
        when {{ parse_integer(raw) }} > 0 then {{ parse_integer(raw) }}
    end
{%- endmacro %}

{#
  A fingerprint of the rules base_marketplace_events parses events with: the parse macros as
  they render for this adapter, and the model's own code. Each staged row records it
  (parse_rules); a change to the rules makes the rows parsed by the old ones stale.
#}
{% macro event_parse_rules() -%}
    {{- return(local_md5(
        parse_timestamptz('v') ~ '|' ~ event_quantity('v') ~ '|' ~ parse_decimal('v') ~ '|'
        ~ is_blank('v') ~ '|' ~ model.raw_code
    )) -}}
{%- endmacro %}

{#
  Pre-hook of base_marketplace_events: drop the rows parsed by other rules (or by a version
  that did not record its rules), so that the incremental run parses their files again.
#}
{% macro delete_events_parsed_by_other_rules() -%}
    {%- if is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- if 'parse_rules' in columns -%}
            delete from {{ this }} where parse_rules is distinct from '{{ event_parse_rules() }}'
        {%- else -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
