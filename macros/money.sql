{#
  Money helpers. Internal amounts are decimal(38,12) ("money_unrounded"); invoice lines,
  tax and totals are rounded once, half away from zero, to the currency's ISO 4217 minor unit
  (seed `currencies`) and stored as decimal(38,4) ("money").
  DuckDB-only SQL stays inside adapter-dispatched macros, so dbt-spark can supply its own.
#}

{% macro money_type() %}decimal(38,4){% endmacro %}
{% macro money_unrounded_type() %}decimal(38,12){% endmacro %}

{# Round a decimal to the currency's minor unit (0-4), half away from zero. #}
{% macro round_money(amount, minor_unit) -%}
    {{ return(adapter.dispatch('round_money', 'billing_warehouse')(amount, minor_unit)) }}
{%- endmacro %}

{% macro default__round_money(amount, minor_unit) -%}
    {#- each branch is cast on its own: a CASE over round(x, 0) .. round(x, 4) of a
        decimal(38, s) unifies to decimal(38, 0) in DuckDB and would drop the cents #}
    case {{ minor_unit }}
        when 0 then cast(round({{ amount }}, 0) as {{ money_type() }})
        when 1 then cast(round({{ amount }}, 1) as {{ money_type() }})
        when 2 then cast(round({{ amount }}, 2) as {{ money_type() }})
        when 3 then cast(round({{ amount }}, 3) as {{ money_type() }})
        else cast(round({{ amount }}, 4) as {{ money_type() }})
    end
{%- endmacro %}

{#
  numerator / denominator rounded half away from zero to `minor_unit` digits, exactly:
  no binary float and no intermediate rounding (DuckDB's decimal division returns DOUBLE).
  numerator: a decimal with scale <= 12; denominator: a positive integer.
#}
{% macro div_round_money(numerator, denominator, minor_unit) -%}
    {{ return(adapter.dispatch('div_round_money', 'billing_warehouse')(numerator, denominator, minor_unit)) }}
{%- endmacro %}

{#
  |x| at 12 decimals as an exact hugeint (|x| x 10^12), for the integer divisions below. The
  integer and fractional parts are scaled apart: multiplying the decimal(38,12) itself by 10^12
  overflows from |x| >= 10^14 (e.g. a JPY seat line of 50,000 x 1,000 seats x a month of seconds).
#}
{% macro duckdb__abs_micro_units(x) -%}
    {%- set value = 'abs(cast(' ~ x ~ ' as ' ~ money_unrounded_type() ~ '))' -%}
    (cast(trunc({{ value }}) as hugeint) * 1000000000000
        + cast(({{ value }} - trunc({{ value }})) * 1000000000000 as hugeint))
{%- endmacro %}

{% macro duckdb__div_round_money(numerator, denominator, minor_unit) -%}
    (
        sign(cast({{ numerator }} as {{ money_unrounded_type() }}))
        * cast(
            (
                {{ duckdb__abs_micro_units(numerator) }}
                * cast(power(10, {{ minor_unit }}) as hugeint) * 2
                + cast({{ denominator }} as hugeint) * 1000000000000
            ) // (cast({{ denominator }} as hugeint) * 2000000000000)
          as decimal(38, 0))
        * case {{ minor_unit }}
            when 0 then 1::decimal(5, 4)
            when 1 then 0.1::decimal(5, 4)
            when 2 then 0.01::decimal(5, 4)
            when 3 then 0.001::decimal(5, 4)
            else 0.0001::decimal(5, 4)
          end
    )::{{ money_type() }}
{%- endmacro %}

{% macro default__div_round_money(numerator, denominator, minor_unit) -%}
    {{ round_money('(' ~ numerator ~ ') / (' ~ denominator ~ ')', minor_unit) }}
{%- endmacro %}

{#
  numerator / denominator as money_unrounded (12 decimals, half away from zero): for amounts
  that are shown per event or per day but never summed into an invoice line.
#}
{% macro div_money_unrounded(numerator, denominator) -%}
    {{ return(adapter.dispatch('div_money_unrounded', 'billing_warehouse')(numerator, denominator)) }}
{%- endmacro %}

{% macro duckdb__div_money_unrounded(numerator, denominator) -%}
    (
        sign(cast({{ numerator }} as {{ money_unrounded_type() }}))
        * cast(
            (
                {{ duckdb__abs_micro_units(numerator) }} * 2
                + cast({{ denominator }} as hugeint)
            ) // (cast({{ denominator }} as hugeint) * 2)
          as decimal(38, 0))
        * 0.000000000001::decimal(13, 12)
    )::{{ money_unrounded_type() }}
{%- endmacro %}

{% macro default__div_money_unrounded(numerator, denominator) -%}
    cast(({{ numerator }}) / ({{ denominator }}) as {{ money_unrounded_type() }})
{%- endmacro %}
