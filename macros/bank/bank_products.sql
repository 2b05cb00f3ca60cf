{#- The retail products of the cross-selling scenario, in seeds/bank/bank_products.csv order:
    the 0/1 columns of retail_product_holdings (the seed's product_key). A product added to
    the seed gets its rule in retail_product_holdings and its key here. -#}
{% macro bank_product_keys() -%}
    {{ return([
        'deposit',
        'insurance',
        'fund',
        'gold_savings',
        'wealth_management',
        'government_bonds',
        'agency_asset_management',
        'loan_and_credit_card',
    ]) }}
{%- endmacro %}
