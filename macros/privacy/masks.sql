{#- Display masks for BI: enough to recognise a customer one already knows, not to find
    one. Plain string functions with the same results on DuckDB, PostgreSQL and Spark
    (lengths count characters); null stays null. -#}

{#- An identifier (phone number, account id): the first 3 and last 4 characters around
    '****' (13812349366 -> 138****9366); shorter than 8 characters: '****' and the last 2. -#}
{% macro mask_identifier(expr) -%}
    case
        when length({{ expr }}) >= 8
            then left({{ expr }}, 3) || '****' || right({{ expr }}, 4)
        else '****' || right({{ expr }}, 2)
    end
{%- endmacro %}

{#- A person's or a company's name: its first character and '**' (张三丰 -> 张**). -#}
{% macro mask_name(expr) -%}
    case when {{ expr }} is not null then left({{ expr }}, 1) || '**' end
{%- endmacro %}

{#- An address: its first 6 characters (province and city) and '***'. -#}
{% macro mask_address(expr) -%}
    case when {{ expr }} is not null then left({{ expr }}, 6) || '***' end
{%- endmacro %}
