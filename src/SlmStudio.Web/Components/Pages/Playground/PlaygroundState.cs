namespace SlmStudio.Web.Components.Pages.Playground;

/// <summary>One output panel of the playground: the streamed tokens with the model's confidence in each.</summary>
public sealed class PlaygroundState
{
    public int VersionId { get; set; }
    public List<(string Text, float Probability)> Tokens { get; } = [];
    public bool Running { get; set; }
    public bool Loading { get; set; }
    public bool Stopped { get; set; }
    public string? Error { get; set; }
    /// <summary>Other generations with this model ahead of this one while it waits for its turn; null when not waiting.</summary>
    public int? WaitingFor { get; set; }
    public DateTime StartedAt { get; private set; }
    public DateTime? FirstTokenAt { get; private set; }

    public string Prompt { get; private set; } = "";

    public void Start(string prompt = "")
    {
        Prompt = prompt;
        Tokens.Clear();
        Running = true;
        Stopped = false;
        Error = null;
        WaitingFor = null;
        StartedAt = DateTime.UtcNow;
        FirstTokenAt = null;
    }

    public void Add(string text, float probability)
    {
        FirstTokenAt ??= DateTime.UtcNow;
        text = Core.Inference.PrintableText.Of(text);
        if (text.Length > 0) Tokens.Add((text, probability));
    }

    /// <summary>The waiting line people see while others use the model first.</summary>
    public static string WaitingText(int others) => others == 1
        ? "Waiting for 1 other person using this model to finish…"
        : $"Waiting for {others:N0} others using this model to finish…";

    public string Text => string.Concat(Tokens.Select(t => t.Text));

    /// <summary>True when the generated text so far ends a sentence (".", "!" or "?", maybe inside closing quotes), after at least a few words.</summary>
    public static bool EndsSentence(string generated)
    {
        var trimmed = generated.TrimEnd().TrimEnd('"', '\'', '\u201D', '\u2019', ')');
        if (trimmed.Length < 2 || trimmed.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length < 3) return false;
        var last = trimmed[^1];
        if (last is '!' or '?') return true;
        // "e.g." and "3." are not sentence ends; a full stop after a word of two or more letters is.
        return last == '.' && trimmed.Length >= 3 && char.IsLetter(trimmed[^2]) && char.IsLetter(trimmed[^3]);
    }

    /// <summary>Background for a token: red for unsure, through yellow, to green for sure.</summary>
    public static string Colour(float probability) => $"background-color: hsla({(int)(Math.Clamp(probability, 0f, 1f) * 120)}, 80%, 70%, 0.55)";
}
