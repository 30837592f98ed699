{# Models land in the schema their folder names (staging, intermediate, reference), marts in
   the target's schema (main), without dbt's default "<target>_" prefix. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
