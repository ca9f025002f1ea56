import Foundation
import Testing

@Suite("influence: command lines, outputs and exit codes", .serialized)
struct CommandLineTests {
    @Test func topLevelHelpListsSubcommands() throws {
        let r = try Influence.run(["--help"])
        #expect(r.exitCode == 0)
        #expect(r.standardOutput.contains("  inspect") && r.standardOutput.contains("  loss") && r.standardOutput.contains("  train"))
    }

    @Test(arguments: [
        (
            [String](),
            "Error: no subcommand given\nUsage: influence <subcommand> [options]; subcommands: inspect, tokenize, loss, train, fit, scores, candidates, report, study crosslingual, study model-size, validate pbrf, validate lds, validate mislabels, merge, demo\n"
        ),
        (
            ["frobnicate"],
            "Error: unknown subcommand 'frobnicate'\nUsage: influence <subcommand> [options]; subcommands: inspect, tokenize, loss, train, fit, scores, candidates, report, study crosslingual, study model-size, validate pbrf, validate lds, validate mislabels, merge, demo\n"
        ),
        (["study"], "Error: no study given; studies: crosslingual, model-size\nUsage: influence study crosslingual|model-size [options]\n"),
        (["study", "sizes"], "Error: unknown study 'sizes'; studies: crosslingual, model-size\nUsage: influence study crosslingual|model-size [options]\n"),
        (["validate"], "Error: no validation given; validations: pbrf, lds, mislabels\nUsage: influence validate pbrf|lds|mislabels [options]\n"),
        (
            ["study", "model-size", "--out", "x", "--sizes", "2x130"],
            "Error: option '--sizes' needs blocks x width pairs such as 2x128 (width a multiple of the 4 heads), got '2x130'\nUsage: influence study model-size [--sizes LxW[,LxW...]] [--steps N] [--documents N] [--architecture gpt2|llama|gpt_neox] [--top K] --out DIR\n"
        ),
        (["inspect"], "Error: missing required option '--model DIR'\nUsage: influence inspect --model DIR\n"),
        (["inspect", "--model"], "Error: option '--model' needs a value (DIR)\nUsage: influence inspect --model DIR\n"),
        (["inspect", "--model", "x", "--bogus"], "Error: unknown option '--bogus'\nUsage: influence inspect --model DIR\n"),
        (
            ["loss", "--model", "m", "--data", "d", "--batch-size", "zero"],
            "Error: option '--batch-size' needs an integer, got 'zero'\nUsage: influence loss --model DIR --data FILE [--label-column NAME] [--max-examples N] [--batch-size N]\n"
        ),
    ])
    func usageErrorsExitWith64(arguments: [String], expected: String) throws {
        let r = try Influence.run(arguments)
        #expect(r.exitCode == 64)
        #expect(r.standardError == expected)
        #expect(r.standardOutput.isEmpty)
    }

    @Test func subcommandHelpShowsEveryOption() throws {
        let r = try Influence.run(["train", "--help"])
        #expect(r.exitCode == 0)
        for option in ["--out DIR", "--corpus fortunes", "--architecture gpt2|llama|gpt_neox|mlp", "--steps N", "--restart", "--help"] {
            #expect(r.standardOutput.contains(option), "help lacks \(option)")
        }
    }

    @Test func inspectPrintsTheFixtureModel() throws {
        let r = try Influence.run(["inspect", "--model", Influence.fixtureModel.path])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let expected = """
            model: gpt2 (GPT2LMHeadModel) at \(Influence.fixtureModel.path)
            configuration: vocab_size 384, n_positions 32, n_embd 32, n_layer 2, n_head 4, n_inner 128, activation gelu_new, tied embeddings yes
            tokenizer: tokenizer.json, 384 tokens
            parameters: 38,784
            modules:
              transformer.wte              Embedding  weight [384, 32]
              transformer.wpe              Embedding  weight [32, 32]
              transformer.h.0.ln_1         LayerNorm  weight [32], bias [32]
              transformer.h.0.attn.c_attn  Linear*    weight [96, 32], bias [96]
              transformer.h.0.attn.c_proj  Linear*    weight [32, 32], bias [32]
              transformer.h.0.ln_2         LayerNorm  weight [32], bias [32]
              transformer.h.0.mlp.c_fc     Linear*    weight [128, 32], bias [128]
              transformer.h.0.mlp.c_proj   Linear*    weight [32, 128], bias [32]
              transformer.h.1.ln_1         LayerNorm  weight [32], bias [32]
              transformer.h.1.attn.c_attn  Linear*    weight [96, 32], bias [96]
              transformer.h.1.attn.c_proj  Linear*    weight [32, 32], bias [32]
              transformer.h.1.ln_2         LayerNorm  weight [32], bias [32]
              transformer.h.1.mlp.c_fc     Linear*    weight [128, 32], bias [128]
              transformer.h.1.mlp.c_proj   Linear*    weight [32, 128], bias [32]
              transformer.ln_f             LayerNorm  weight [32], bias [32]
              lm_head                      Linear*    weight [384, 32]
              (lm_head.weight is tied to transformer.wte.weight)
            linear layers: 9 (marked *)
            module groups (--modules): all (9), attention (4), mlp (4)

            """
        #expect(r.standardOutput == expected)
    }

    @Test func inspectOfMissingDirectoryFailsWithExitCode1() throws {
        let r = try Influence.run(["inspect", "--model", "/nonexistent/model"])
        #expect(r.exitCode == 1)
        #expect(r.standardError == "Error: /nonexistent/model does not exist; expected a model directory with config.json and model.safetensors\n")
    }
}
