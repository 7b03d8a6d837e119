using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Inference;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class GenerateCommand : SlmCommand
{
    private static readonly GenerationSettings Defaults = new();

    private readonly Argument<string?> _artifact = OptionalArgument("artifact folder", "the folder made by 'slm export'");
    private readonly Option<string?> _prompt = Text("--prompt", "text", "the text to continue; \"\" starts from the beginning-of-text token");
    private readonly Option<int?> _maxTokens = Int("--max-tokens", "N", $"most tokens to generate (default {Defaults.MaxNewTokens})", 0, 100_000);
    private readonly Option<double?> _temperature = Double("--temperature", "T", Invariant($"0 is greedy: the most likely token each time (default {Defaults.Temperature})"), 0, 100);
    private readonly Option<int?> _topK = Int("--top-k", "K", $"sample among the K most likely tokens, 0 = off (default {Defaults.TopK})", 0, 1_000_000);
    private readonly Option<double?> _topP = Double("--top-p", "P", Invariant($"sample among the most likely tokens that make up P of the probability, 1 = off (default {Defaults.TopP})"), 1e-9, 1);
    private readonly Option<double?> _repetitionPenalty = Double("--repetition-penalty", "R", Invariant($"make tokens already seen less likely, 1 = off (default {Defaults.RepetitionPenalty})"), 0.01, 10);
    private readonly Option<int?> _seed = Int("--seed", "S", "random seed, for the same text every time");
    private readonly Option<string?> _stop = Text("--stop", "text", "end generation at this text (not printed)");
    private readonly Option<bool> _showProbabilities = Flag("--show-probabilities", "print each token's probability");
    private readonly Option<bool> _json = Flag("--json", "print one JSON line per generated token (id, text, probability) instead of the text");

    private static readonly JsonSerializerOptions JsonLine = new(JsonSerializerDefaults.Web);

    public GenerateCommand() : base("generate", "Generate text with an exported model (ONNX Runtime), streamed to the console.", """
        Streams the continuation of the prompt token by token. With --json, prints one line per generated token instead,
        for example {"id":302,"text":" cat","probability":0.41}: id is the token id, text what it adds to the output
        (empty while a character spans several tokens), probability the model's own probability of it (before
        temperature, penalty and filtering). The prompt is not printed. Generation ends at the end-of-text token, which
        is not printed. The repetition penalty is on by default; --repetition-penalty 1 switches it off, as scripts
        that compare ids with Hugging Face greedy decoding need.
        """)
    {
        Arguments.Add(_artifact);
        foreach (var option in new Option[] { _prompt, _maxTokens, _temperature, _topK, _topP, _repetitionPenalty, _seed, _stop, _showProbabilities, _json })
            Options.Add(option);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    protected override async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var prompt = parsed.GetValue(_prompt) ?? throw new UsageException("--prompt is required (use --prompt \"\" to start from nothing).");
        var stop = parsed.GetValue(_stop);
        var settings = Defaults with
        {
            MaxNewTokens = parsed.GetValue(_maxTokens) ?? Defaults.MaxNewTokens,
            Temperature = parsed.GetValue(_temperature) ?? Defaults.Temperature,
            TopK = parsed.GetValue(_topK) ?? Defaults.TopK,
            TopP = parsed.GetValue(_topP) ?? Defaults.TopP,
            RepetitionPenalty = parsed.GetValue(_repetitionPenalty) ?? Defaults.RepetitionPenalty,
            Seed = parsed.GetValue(_seed),
            StopSequences = stop is null ? null : [stop],
        };
        var showProbabilities = parsed.GetValue(_showProbabilities);
        var json = parsed.GetValue(_json);
        if (json && showProbabilities) throw new UsageException("--json already includes each token's probability; leave out --show-probabilities.");
        var artifactDir = parsed.GetValue(_artifact) ?? throw new UsageException("Give the artifact folder (made by 'slm export').");

        using var artifact = OnnxArtifact.Open(artifactDir);
        var generator = new TextGenerator(artifact);
        if (json)
        {
            await foreach (var token in generator.GenerateAsync(prompt, settings, cancellationToken))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { id = token.Id, text = token.Text, probability = token.Probability }, JsonLine));
                Console.Out.Flush();
            }
            return 0;
        }
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
