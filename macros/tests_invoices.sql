{#
  Small generic data tests (used in the models' YAML).

  unique_combination: no two rows share the values of `columns` (a model's grain).
  sums_match: per `group_by` key, sum(`column_name`) of this model equals sum(`compare_column`)
    of `compare_model` (within `tolerance`, default exact); a key present on one side only
    counts as a mismatch against 0. Optional `filter` / `compare_filter` (SQL conditions) filter each side.
#}

{% test unique_combination(model, columns) %}
select
    {{ columns | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test sums_match(model, column_name, compare_model, compare_column, group_by, filter=none, compare_filter=none, tolerance=0) %}
with this_side as (
    select
        {{ group_by | join(', ') }},
        sum({{ column_name }}) as this_sum
    from {{ model }}
    {% if filter %}where {{ filter }}{% endif %}
    group by {{ group_by | join(', ') }}
),

other_side as (
    select
        {{ group_by | join(', ') }},
        sum({{ compare_column }}) as other_sum
    from {{ compare_model }}
    {% if compare_filter %}where {{ compare_filter }}{% endif %}
    group by {{ group_by | join(', ') }}
)

select
    {% for col in group_by %}coalesce(t.{{ col }}, o.{{ col }}) as {{ col }},{% endfor %}
    coalesce(t.this_sum, 0) as this_sum,
    coalesce(o.other_sum, 0) as other_sum
from this_side as t
full outer join other_side as o
    on {% for col in group_by %}t.{{ col }} = o.{{ col }}{% if not loop.last %} and {% endif %}{% endfor %}
where abs(coalesce(t.this_sum, 0) - coalesce(o.other_sum, 0)) > {{ tolerance }}
{% endtest %}
