import StylevidCommands

// The commands live in the StylevidCommands library, where unit tests reach them.
StyleVid.main()
