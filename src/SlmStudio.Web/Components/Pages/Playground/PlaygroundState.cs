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
        StartedAt = DateTime.UtcNow;
        FirstTokenAt = null;
    }

    public void Add(string text, float probability)
    {
        FirstTokenAt ??= DateTime.UtcNow;
        Tokens.Add((text, probability));
    }

    public string Text => string.Concat(Tokens.Select(t => t.Text));

    /// <summary>Background for a token: red for unsure, through yellow, to green for sure.</summary>
    public static string Colour(float probability) => $"background-color: hsla({(int)(Math.Clamp(probability, 0f, 1f) * 120)}, 80%, 70%, 0.55)";
}
