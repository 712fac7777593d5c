print("plutus")
