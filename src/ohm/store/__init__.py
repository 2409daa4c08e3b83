"""Domain operations, one module per domain; every function takes an identity.

The store runs parameterised SQL inside ``Database.acting_as(identity)``;
row-level security decides what exists for that identity.
"""
