{# List and aggregate helpers, dispatched by adapter. #}

{# aggregate: the value of `value` on the row with the greatest `key` #}
{% macro value_at_max(value, key) -%}
    {{ return(adapter.dispatch('value_at_max', 'billing_warehouse')(value, key)) }}
{%- endmacro %}
{% macro duckdb__value_at_max(value, key) -%}arg_max({{ value }}, {{ key }}){%- endmacro %}
{% macro spark__value_at_max(value, key) -%}max_by({{ value }}, {{ key }}){%- endmacro %}

{#
  one output row per element of a list column, as select-list expressions: the element as
  `value_name` and its 1-based position in the list as `position_name`
#}
{% macro unnest_list_with_position(list_column, value_name, position_name) -%}
    {{ return(adapter.dispatch('unnest_list_with_position', 'billing_warehouse')(list_column, value_name, position_name)) }}
{%- endmacro %}
{% macro duckdb__unnest_list_with_position(list_column, value_name, position_name) -%}
    unnest({{ list_column }}) as {{ value_name }},
    generate_subscripts({{ list_column }}, 1) as {{ position_name }}
{%- endmacro %}
{% macro spark__unnest_list_with_position(list_column, value_name, position_name) -%}
    posexplode({{ list_column }}) as ({{ position_name }}, {{ value_name }})
{%- endmacro %}
