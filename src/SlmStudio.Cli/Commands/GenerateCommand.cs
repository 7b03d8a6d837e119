using System.Globalization;
using SlmStudio.Core.Inference;

namespace SlmStudio.Cli.Commands;

public sealed class GenerateCommand : ICliCommand
{
    public string Name => "generate";
    public string Summary => "Generate text with an exported model (ONNX Runtime), streamed to the console.";
    public string Help => """
        Usage: slm generate <artifact folder> --prompt "..." [--max-tokens N] [--temperature T] [--top-k K] [--top-p P]
                            [--repetition-penalty R] [--seed S] [--stop "text"] [--show-probabilities]

        Streams the continuation of the prompt token by token. An empty prompt ("") starts from the beginning-of-text
        token. --temperature 0 is greedy (the most likely token each time). Defaults: --max-tokens 100,
        --temperature 0.8, --top-k 40 (0 = off), --top-p 0.95 (1 = off), --repetition-penalty 1.1 (1 = off).
        --stop ends generation at that text (not printed). --show-probabilities prints each token's probability.
        """;

    public async Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken)
    {
        var defaults = new GenerationSettings();
        var prompt = args.String("prompt") ?? throw new UsageException("--prompt is required (use --prompt \"\" to start from nothing).");
        var stop = args.String("stop");
        var settings = new GenerationSettings(
            MaxNewTokens: args.Int("max-tokens", 0, 100_000) ?? defaults.MaxNewTokens,
            Temperature: args.Double("temperature", 0, 100) ?? defaults.Temperature,
            TopK: args.Int("top-k", 0, 1_000_000) ?? defaults.TopK,
            TopP: args.Double("top-p", 1e-9, 1) ?? defaults.TopP,
            RepetitionPenalty: args.Double("repetition-penalty", 0.01, 10) ?? defaults.RepetitionPenalty,
            Seed: args.Int("seed"),
            StopSequences: stop is null ? null : [stop]);
        var showProbabilities = args.Flag("show-probabilities");
        args.EnsureAllUsed(1);
        if (args.Positional.Count == 0) throw new UsageException("Give the artifact folder (made by 'slm export').");

        using var artifact = OnnxArtifact.Open(args.Positional[0]);
        var generator = new TextGenerator(artifact);
        Console.Write(prompt);
        await foreach (var token in generator.GenerateAsync(prompt, settings, cancellationToken))
        {
            Console.Write(showProbabilities ? string.Create(CultureInfo.InvariantCulture, $"{token.Text}[{token.Probability:P0}]") : token.Text);
            Console.Out.Flush();
        }
        Console.WriteLine();
        return 0;
    }
}
