using System.Text.RegularExpressions;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Instruction;

/// <summary>
/// A chat run's sample text (a piece of a rendered conversation and the model's continuation, template tokens and all)
/// as the turns a person reads: who speaks and what they say, with every template marker and special token removed.
/// Knows the markers of the templates SLM Studio trains with (ChatML, "### Question:", Llama 3, Phi-3, Mistral). A
/// sample starts at a random place, so text before the first marker is the rest of a turn whose speaker is not known.
/// </summary>
public static partial class ChatSampleText
{
    /// <summary>The speaker of text that came before any marker in the sample.</summary>
    public const string Unknown = "";

    public static IReadOnlyList<ChatMessage> Turns(string text)
    {
        var turns = new List<ChatMessage>();
        var role = Unknown;
        var at = 0;
        foreach (Match m in Marker().Matches(text))
        {
            Add(text[at..m.Index]);
            at = m.Index + m.Length;
            var speaker = RoleOf(m);
            if (speaker is not null) role = speaker;
        }
        Add(text[at..]);
        return turns;

        void Add(string piece)
        {
            var clean = Tidy(piece);
            if (clean.Length == 0) return;
            // Text after an end-of-turn marker without a new speaker still belongs to the last one (a run-on answer).
            if (turns.Count > 0 && turns[^1].Role == role) turns[^1] = turns[^1] with { Content = turns[^1].Content + " " + clean };
            else turns.Add(new ChatMessage(role, clean));
        }
    }

    /// <summary>"What are your hours? → We are open 9 to 5." (system text is left out; a leading unknown piece keeps its place).</summary>
    public static string QuestionAndAnswer(string text) =>
        string.Join(" → ", Turns(text).Where(t => t.Role != "system").Select(t => t.Content));

    private static string? RoleOf(Match m)
    {
        foreach (var name in new[] { "chatml", "header", "phi" })
            if (m.Groups[name].Success) return Normalise(m.Groups[name].Value);
        if (m.Groups["question"].Success || m.Groups["inst"].Success) return "user";
        if (m.Groups["answer"].Success || m.Groups["instEnd"].Success) return "assistant";
        return null; // an end-of-turn or special token: no new speaker
    }

    private static string Normalise(string role) => role.ToLowerInvariant() switch
    {
        "user" => "user",
        "assistant" => "assistant",
        "system" => "system",
        _ => Unknown,
    };

    /// <summary>Whitespace folded; a piece of a special token cut off at the sample's start ("nd|&gt;") removed.</summary>
    private static string Tidy(string piece)
    {
        piece = Fragment().Replace(piece, " ");
        return Spaces().Replace(piece, " ").Trim();
    }

    [GeneratedRegex(
        @"<\|im_start\|>\s*(?<chatml>\w+)|<\|start_header_id\|>\s*(?<header>\w+)\s*<\|end_header_id\|>|<\|(?<phi>user|assistant|system)\|>" +
        @"|(?<question>###\s*Question:)|(?<answer>###\s*Answer:)|(?<inst>\[INST\])|(?<instEnd>\[/INST\])" +
        @"|<\|im_end\|>|<\|eot_id\|>|<\|end\|>|<\|endoftext\|>|<\|begin_of_text\|>|<\|end_of_text\|>|</s>|<s>|<\|[a-z_]+\|>")]
    private static partial Regex Marker();

    [GeneratedRegex(@"^\S*\|>|<\|\S*$")]
    private static partial Regex Fragment();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
