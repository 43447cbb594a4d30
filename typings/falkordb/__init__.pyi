# The part of the falkordb client novamem uses (storage/falkordb); the package ships no type information.
