{#
  The rows of raw table `table` that come from the active version of their file, with the
  load and path that order "latest loaded wins" (staging keeps one row per natural key).
#}
{% macro active_raw_rows(table) -%}
    select
        r.*,
        f.load_id as _load_id,
        f.rel_path as _rel_path
    from {{ source('raw', table) }} as r
    inner join {{ source('raw', 'source_files') }} as f
        on f.file_id = r._file_id
    where f.is_active
{%- endmacro %}

{# keep the latest-loaded row per natural key (a QUALIFY clause for a staging CTE) #}
{% macro latest_loaded(key_columns) -%}
    qualify row_number() over (
        partition by {{ key_columns }}
        order by _load_id desc, _rel_path desc, _row_number desc
    ) = 1
{%- endmacro %}
