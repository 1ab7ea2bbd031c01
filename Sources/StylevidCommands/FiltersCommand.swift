import ArgumentParser
import Engine
import Foundation
import VideoIO

/// `stylevid filters [NAME]`: the filters of `-vf` chains and their options.
struct FiltersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "List the filters of -vf chains, or show one filter's options.",
        discussion: """
            A chain is FFmpeg's syntax: filters separated by ',', options by ':', given \
            in order or as key=value; quote with '...' or escape with \\. Lists inside an \
            option use '|' (frames=1|10|20|40) or quotes (frames='1,10,20,40').
              stylevid in.mp4 out.mp4 -vf "scale=640:-2,style=painting.jpg:weight=200,temporal=200,iterations=100:10"
            """)
    @Argument(help: "A filter name.") var name: String?

    func run() throws {
        guard let name else {
            for f in FilterChain.filters {
                print("\(f.name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(f.options.map(\.name).joined(separator: ":"))")
                print("            \(f.help)")
            }
            return
        }
        guard let def = FilterChain.definition(name) else {
            let hint = FilterChain.nearest(name, in: FilterChain.filters.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
            throw CLIError("no filter named '\(name)'\(hint); `stylevid filters` lists them")
        }
        print(FilterChain.help(def))
    }
}
