from seqexp.train import main

main()
