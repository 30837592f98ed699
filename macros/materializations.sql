{#-
  Lean `view` and `table` materializations, dispatched for adapter duckdb only (a Spark
  deployment keeps dbt-spark's own; `incremental`, `seed`, tests and unit tests keep
  dbt-duckdb's).

  Why: dbt-duckdb's stock materializations run ~7.4 SQL statements per view and ~8.2 per table
  (create a tmp relation, rename the old one to a backup, rename tmp, drop the backup, plus
  cache and index lookups), each through a macro call that builds a full macro context. Here a
  node is one `create or replace view|table ... as (...)` inside begin/commit (DuckDB DDL is
  transactional: readers see the old or the new relation, and a failed replace keeps the old).
  Measured on the raw_basic fixture (42-node close build): the second build in one process
  2.57 -> 1.92 s, the first 2.93 -> 2.44 s (medians; docs/operations.md, "dbt
  materializations"); the relations built are the same.

  Kept: pre/post hooks (inside and outside the transaction); sql_header; contract enforcement
  (names and types are asserted before anything is written; a table with an enforced contract
  is created from its declared columns and constraints, then filled, as stock does); a model
  that changes kind (view <-> table) drops the other kind first, in the same transaction;
  Python models (dbt-duckdb's environment still runs the model and hands `materialize` the
  object it returned, e.g. a pyarrow RecordBatchReader, on a cursor of its own; it is registered
  and copied into the table, as stock does).

  Dropped: grants, persist_docs (comments), dbt-duckdb `indexes`, and the DuckLake/foreign-key
  rebuild paths. A node that configures any of those (or lives in a DuckLake catalog, or has a
  foreign-key constraint) is handed to the stock materialization instead, so nothing is dropped
  silently.
-#}

{% macro lean_materialization_unsupported(relation) -%}
  {#- True when the node needs something only the stock materialization does. -#}
  {%- set persist = config.get('persist_docs') or {} -%}
  {%- set foreign_keys = [] -%}
  {%- for constraint in model.get('constraints', []) if constraint.get('type') == 'foreign_key' -%}
    {%- do foreign_keys.append(constraint) -%}
  {%- endfor -%}
  {%- for column in (model.get('columns') or {}).values() -%}
    {%- for constraint in column.get('constraints', []) if constraint.get('type') == 'foreign_key' -%}
      {%- do foreign_keys.append(constraint) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{- return(config.get('grants') or persist.get('relation') or persist.get('columns')
             or config.get('indexes') or config.get('partitioned_by') or config.get('sorted_by')
             or foreign_keys or adapter.is_ducklake(relation)) -}}
{%- endmacro %}

{% macro lean_drop_other_kind(existing_relation, kind) -%}
  {#- SQL that drops the relation of the other kind (view/table) holding this name, if any. -#}
  {%- if existing_relation is not none and existing_relation.type != kind -%}
    {%- do adapter.cache_dropped(existing_relation) -%}
    drop {{ existing_relation.type }} if exists {{ existing_relation }};
  {%- endif -%}
{%- endmacro %}

{% materialization view, adapter="duckdb" %}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- if lean_materialization_unsupported(target_relation) -%}
    {{ return(dbt.materialization_view_default()) }}
  {%- endif -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set sql_header = config.get('sql_header', none) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% call statement('main') -%}
    {%- if config.get('contract').enforced -%}{{ get_assert_columns_equivalent(sql) }}{%- endif %}
    {{ sql_header if sql_header is not none }}
    {{ lean_drop_other_kind(existing_relation, 'view') }}
    create or replace view {{ target_relation }} as (
      {{ sql }}
    );
  {%- endcall %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% materialization table, adapter="duckdb", supported_languages=['sql', 'python'] %}
  {%- set language = model['language'] -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- if lean_materialization_unsupported(target_relation) -%}
    {{ return(dbt.materialization_table_duckdb()) }}
  {%- endif -%}
  {%- set existing_relation = load_cached_relation(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% if language == 'python' %}
    {#- dbt-duckdb runs this on a cursor of its own (autocommit): a view of the same name is
        dropped in the same transaction as the table is created. -#}
    {%- set drop_sql = lean_drop_other_kind(existing_relation, 'table') | trim -%}
    {% call statement('main', language='python') -%}
{{ compiled_code }}


def materialize(df, con):
    try:
        import pyarrow
        if isinstance(df, pyarrow.Table):
            import pyarrow.dataset  # noqa: F401  (https://github.com/duckdb/duckdb/issues/6584)
    except ImportError:
        pass
    name = '__dbt_python_model_df_{{ target_relation.identifier }}'
    con.register(name, df)
    try:
        con.execute('begin')
        {%- if drop_sql %}
        con.execute('''{{ drop_sql }}''')
        {%- endif %}
        con.execute('create or replace table {{ target_relation }} as select * from ' + name)
        con.execute('commit')
    except BaseException:
        con.execute('rollback')
        raise
    finally:
        con.unregister(name)
    {%- endcall %}
    {#- the hooks and the commit below run on dbt's own connection -#}
    {% do adapter.ensure_transaction() %}
  {% else %}
    {%- set sql_header = config.get('sql_header', none) -%}
    {% call statement('main') -%}
      {{ sql_header if sql_header is not none }}
      {%- if config.get('contract').enforced %}
      {{ get_assert_columns_equivalent(compiled_code) }}
      {{ lean_drop_other_kind(existing_relation, 'table') }}
      create or replace table {{ target_relation }} {{ get_table_columns_and_constraints() }};
      insert into {{ target_relation }} {{ get_column_names() }} (
        {{ get_select_subquery(compiled_code) }}
      );
      {%- else %}
      {{ lean_drop_other_kind(existing_relation, 'table') }}
      create or replace table {{ target_relation }} as (
        {{ compiled_code }}
      );
      {%- endif %}
    {%- endcall %}
  {% endif %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
