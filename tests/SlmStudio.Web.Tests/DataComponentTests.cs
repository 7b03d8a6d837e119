using Bunit;
using MudBlazor.Services;
using SlmStudio.Core.Data;
using SlmStudio.Web.Components.Pages.Projects;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Tests;

public sealed class DataComponentTests : BunitContext
{
    public DataComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    private static TabularPreview Tickets() => new("tickets.csv", ["id", "subject", "body", "team"],
        [["1", "Lid", "The lid of the kettle does not close", "support"], ["2", "Handle", "The handle came loose after a week", "returns"]],
        "body", ColumnMapping.Labelled("body", "team"), []);

    [Fact]
    public void A_saved_mapping_that_cannot_be_read_falls_back_to_the_suggestion_and_says_so()
    {
        var cut = Render<ColumnMappingEditor>(p => p.Add(x => x.Preview, Tickets()).Add(x => x.FileId, 3).Add(x => x.Current, "body"));

        Assert.Equal("body", cut.Find("#mapping-text-3").GetAttribute("value"));
        Assert.Contains("could not be read, so the suggestion is shown", cut.Find(".mapping-error").TextContent);
    }

    [Fact]
    public void Column_mapping_shows_the_suggestion_and_applies_the_chosen_text_column()
    {
        ColumnMapping? applied = null;
        var cut = Render<ColumnMappingEditor>(p => p.Add(x => x.Preview, Tickets()).Add(x => x.FileId, 7).Add(x => x.OnApply, m => applied = m));

        Assert.Contains("text = body, label = team", cut.Find("#mapping-suggestion").TextContent);
        Assert.Equal("body", cut.Find("#mapping-text-7").GetAttribute("value"));
        Assert.Empty(cut.FindAll("#mapping-label-7")); // "Write like us" needs only the text

        cut.Find("#mapping-text-7").Change("subject");
        cut.Find("#mapping-apply-7").Click();
        Assert.Equal(ColumnMapping.Text("subject"), applied);

        applied = null;
        cut.Find("#mapping-text-7").Change("");
        cut.Find("#mapping-apply-7").Click();
        Assert.Null(applied);
        Assert.Contains("Choose the column that holds the text", cut.Find(".mapping-error").TextContent);
    }

    [Fact]
    public void Column_mapping_rules()
    {
        string[] columns = ["body", "team"];
        Assert.Equal(ColumnMapping.Text("body"), ColumnMappingEditor.Build(UseCase.WriteLikeUs, columns, "body", "team").Mapping);
        Assert.Equal(ColumnMapping.Labelled("body", "team"), ColumnMappingEditor.Build(UseCase.SortAndRoute, columns, "body", "team").Mapping);
        Assert.NotNull(ColumnMappingEditor.Build(UseCase.SortAndRoute, columns, "body", "body").Error);
        Assert.NotNull(ColumnMappingEditor.Build(UseCase.WriteLikeUs, columns, "title", null).Error);
        Assert.Equal("text = q, question = q, answer = a", ColumnMappingEditor.Describe(new ColumnMapping("q", null, "q", "a")));
    }

    private static PreparationReview ReviewOf(DatasetSettings settings)
    {
        var lines = new List<TextRecord>
        {
            new("Write to anna.smith@example.com about the order of kettles for the north store.", 1),
            new("Ask bob@example.org for the spare parts list of the toaster range.", 3),
            new("The kettle switches itself off when the water boils and the lid is closed.", 5),
            new("The kettle switches itself off when the water boils and the lid is closed.", 7),
            new("Descaling every four weeks keeps the heating element quiet and efficient.", 9),
        };
        var doc = new ExtractedDocument("orders.txt", DocumentKind.Text, lines, [], DocumentStats.Of(lines)) { SourceSha256 = "ab", SourceBytes = 100 };
        return DatasetBuilder.Review([doc], settings);
    }

    [Fact]
    public void Review_lists_personal_data_by_kind_masked_with_where_and_the_duplicates_removed()
    {
        var settings = new DatasetSettings { Task = DatasetTask.Text };
        var cut = Render<ReviewSummary>(p => p.Add(x => x.Review, ReviewOf(settings)).Add(x => x.Settings, settings));

        var row = cut.Find(".redaction-kind[data-kind='Email']");
        Assert.Equal("2", row.QuerySelector(".redaction-count")!.TextContent);
        Assert.Contains("[EMAIL]", row.TextContent);
        var examples = cut.FindAll(".redaction-example").Select(e => e.TextContent).ToList();
        Assert.Equal(2, examples.Count);
        Assert.Contains(examples, e => e.Contains("orders.txt, line 1"));
        Assert.DoesNotContain("anna.smith@example.com", cut.Markup);
        Assert.DoesNotContain("bob@example.org", cut.Markup);

        var duplicates = cut.Find("#review-duplicates").TextContent;
        Assert.Contains("Removed 1 exact copy", duplicates);
        Assert.Empty(cut.FindAll(".near-pair")); // nothing nearly identical here
        Assert.Contains("orders.txt, line 7 repeats orders.txt, line 5", duplicates);
        Assert.Contains("4", cut.Find("#review-totals").TextContent);
    }

    [Fact]
    public void Review_says_so_when_redaction_and_duplicate_removal_are_switched_off()
    {
        var settings = new DatasetSettings { Task = DatasetTask.Text, RedactPersonalData = false, RemoveDuplicates = false };
        var cut = Render<ReviewSummary>(p => p.Add(x => x.Review, ReviewOf(settings)).Add(x => x.Settings, settings));
        Assert.Contains("not replaced (switched off)", cut.Find("#review-redactions").TextContent);
        Assert.Contains("Duplicates are kept", cut.Find("#review-duplicates").TextContent);
        Assert.Empty(cut.FindAll(".redaction-example"));
    }
}
