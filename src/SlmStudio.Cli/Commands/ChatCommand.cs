using System.CommandLine;
using System.Globalization;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Instruction;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class ChatCommand : SlmCommand
{
    private readonly Argument<string?> _artifact = OptionalArgument("artifact folder", "a chat model's folder made by 'slm export' (trained with slm train --task chat)");
    private readonly Option<string?> _prompt = Text("--prompt", "text", "answer this one question and exit, instead of a conversation");
    private readonly Option<string?> _system = Text("--system", "text", "an instruction that opens the conversation (for example: Answer in one sentence.)");
    private readonly Option<int?> _maxTokens = Int("--max-tokens", "N", $"most tokens per answer (default {ChatSession.DefaultMaxNewTokens})", 1, 100_000);
    private readonly Option<double?> _temperature = Double("--temperature", "T", "0 (the default) always gives the most likely answer; higher values vary it", 0, 100);
    private readonly Option<int?> _seed = Int("--seed", "S", "random seed, for the same answers every time with --temperature above 0");

    public ChatCommand() : base("chat", "Chat with an exported question-answering model (ONNX Runtime), answers streamed to the console.", """
        Without --prompt, starts a conversation in the terminal: type a question and press Enter; the answer is
        streamed as it is written, and the next question continues the same conversation (the model sees the
        earlier questions and answers; the oldest are left out when they no longer fit). Type /reset to start a new
        conversation, /exit (or press Ctrl+D) to leave. With --prompt, prints the one answer and exits.
        An answer ends at the model's end-of-turn token; template tokens are never printed.
        """)
    {
        Arguments.Add(_artifact);
        foreach (var option in new Option[] { _prompt, _system, _maxTokens, _temperature, _seed }) Options.Add(option);
    }

    protected override async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var artifactDir = parsed.GetValue(_artifact) ?? throw new UsageException("Give the artifact folder of a chat model (made by 'slm export').");
        var temperature = parsed.GetValue(_temperature) ?? 0;
        if (parsed.GetResult(_seed) is not null && temperature <= 0) throw new UsageException("--seed applies only with --temperature above 0 (at 0 the answer is always the same).");
        var settings = temperature <= 0
            ? GenerationSettings.Greedy(parsed.GetValue(_maxTokens) ?? ChatSession.DefaultMaxNewTokens)
            : new GenerationSettings(parsed.GetValue(_maxTokens) ?? ChatSession.DefaultMaxNewTokens, temperature, Seed: parsed.GetValue(_seed));
        using var artifact = OnnxArtifact.Open(artifactDir);
        var session = new ChatSession(artifact, parsed.GetValue(_system), settings);

        if (parsed.GetValue(_prompt) is { } prompt)
        {
            if (string.IsNullOrWhiteSpace(prompt)) throw new UsageException("--prompt is empty; give a question.");
            await Stream(session, prompt, cancellationToken);
            return 0;
        }

        var interactive = !Console.IsInputRedirected;
        if (interactive)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Chatting with {Path.GetFileName(Path.GetFullPath(artifactDir))}. Type a question and press Enter; /reset starts over, /exit leaves."));
        while (!cancellationToken.IsCancellationRequested)
        {
            if (interactive) Console.Write("> ");
            var line = Console.ReadLine();
            if (line is null) break;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line is "/exit" or "/quit") break;
            if (line == "/reset")
            {
                session.Reset();
                if (interactive) Console.WriteLine("(a new conversation)");
                continue;
            }
            await Stream(session, line, cancellationToken);
        }
        return 0;
    }

    private static async Task Stream(ChatSession session, string question, CancellationToken ct)
    {
        await foreach (var piece in session.SendAsync(question, ct))
        {
            Console.Write(piece);
            Console.Out.Flush();
        }
        Console.WriteLine();
    }
}
