print("influence")
