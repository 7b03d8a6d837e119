using System.Text.Json.Nodes;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Tests.Export;

public class ModelCardTests
{
    private static readonly LlamaConfig Config = ModelPresets.All[0].ConfigFor(1024);
    private static readonly ParityReport Parity = new("TorchSharp", 1e-4, 1e-6, 1e-6, true, true, [new ParityCase(1, 8, 4, 1e-6, 1e-6)]);

    private static JsonObject PortalRun() => JsonNode.Parse("""
        {"options":{"dataPath":"/srv/slm/jobs/runs/7/data/train.txt","runDirectory":"/srv/slm/jobs/runs/7","preset":"tiny","device":"auto","seed":1},
         "preset":"tiny","batchSize":8,"createdAt":"2026-12-01T14:05:00+00:00"}
        """)!.AsObject();

    [Fact]
    public void The_card_of_a_portal_run_names_the_model_hides_server_paths_and_reads_plainly()
    {
        var source = new ArtifactSource("run", "/srv/slm/jobs/runs/7", "tiny", "/srv/slm/jobs/runs/7/data/train.txt");
        var card = ModelCard.Write(Config, Parity, source, PortalRun(), null, "export", title: "Kettle Co support — version 3");

        Assert.StartsWith("# Kettle Co support — version 3", card);
        Assert.DoesNotContain("/srv/slm", card);
        Assert.Contains("`train.txt`", card);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(card, "preset", System.Text.RegularExpressions.RegexOptions.IgnoreCase));
        Assert.DoesNotContain(@"\u002B", card);
        Assert.Contains("2026-12-01T14:05:00+00:00", card);
        Assert.Contains("How to use this", card);
        Assert.Contains("auto (the GPU when one was available, else the CPU)", card);
    }

    [Fact]
    public void Without_a_title_a_folder_called_export_is_not_the_title()
    {
        var card = ModelCard.Write(Config, Parity, new ArtifactSource("run", "/srv/runs/7", "tiny"), PortalRun(), null, "export");
        Assert.StartsWith("# SLM Studio model (tiny size)", card);
    }
}
