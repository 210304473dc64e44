module naivechain

go 1.26.8
