{
  "targets": [
    {
      "target_name": "lvsd_native",
      "sources": ["lvsd_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration"]
    },
    {
      "target_name": "lvsd_nft",
      "sources": ["lvsd_nft.c"],
      "libraries": ["-ldl"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration"]
    }
  ]
}
