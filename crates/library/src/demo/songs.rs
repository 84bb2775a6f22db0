//! The demo catalogue: titles, artists, tags and lyrics, all the project's own.

use super::DemoSong;
use moodtune_core::Emotion;

macro_rules! song {
    ($slug:literal, $title:literal, $artist:literal, $emo:ident, [$($tag:literal),*], $lang:literal, $secs:literal, $lyrics:literal) => {
        DemoSong {
            slug: $slug,
            title: $title,
            artist: $artist,
            emotion: Emotion::$emo,
            tags: &[$($tag),*],
            lyrics: $lyrics,
            language: $lang,
            seconds: $secs,
        }
    };
}

/// The demo songs. Lyrics are original to this project.
pub const SONGS: &[DemoSong] = &[
    song!("happy-sunlight-on-the-stairs", "Sunlight on the Stairs", "Mira Vale", Happy,
        ["Cheerful", "Bright", "Fast", "Piano"], "en", 24.0,
        "Sunlight on the stairs and coffee on the sill\nwe laugh about the rain that never came\nopen every window, let the morning spill\ntoday I dance and sing your happy name"),
    song!("happy-kite-day", "Kite Day", "Paper Lanterns", Happy,
        ["Cheerful", "Electronic", "Fast", "Playful"], "en", 22.0,
        "Red kite over the river, string in my hand\nwe run until the meadow runs out of land\njoy as wide as the wind is wide\nsmile and shout, there's nothing here to hide"),
    song!("happy-sunny-steps", "晴天小步", "小岛乐队", Happy,
        ["Cheerful", "Keyboard", "Bright"], "zh", 26.0,
        "阳光洒在小路上\n我们一起开心地唱\n风儿轻轻吹过脸庞\n今天的快乐像花一样开放"),
    song!("sad-letters-never-sent", "Letters I Never Sent", "The Quiet Hours", Sad,
        ["Melancholy", "Piano", "Slow"], "en", 28.0,
        "I keep the letters I never sent\nfolded in a drawer of grey\nevery lonely word is what I meant\nplease don't go, I wanted you to stay"),
    song!("sad-empty-platform", "Empty Platform", "Low Tide Radio", Sad,
        ["Melancholy", "Strings", "Slow"], "en", 27.0,
        "The last train took the light away\nI count the benches, cold and wet\ntears I swore I wouldn't cry today\nthe empty platform holds my regret"),
    song!("sad-rainy-night", "雨夜", "小岛乐队", Sad,
        ["Melancholy", "Piano", "Slow", "Calm"], "zh", 29.0,
        "窗外的雨下了一整夜\n想你的心慢慢破碎\n孤单的灯照着眼泪\n再也回不去的从前"),
    song!("angry-break-the-glass", "Break the Glass", "Static Orchard", Angry,
        ["Wild", "Heavy", "Fast", "Electronic"], "en", 22.0,
        "You lied to me again and I am done\nburn the bridge and break the glass\nfurious, I won't be the one\nwho stays and swallows all your trash"),
    song!("angry-red-line", "Red Line", "Juniper & Coal", Angry,
        ["Heavy", "Dark", "Fast"], "en", 21.0,
        "Red line, I'm shaking with rage\nslam the door and tear the page\nhate is roaring in my head\nscream until the fury's fed"),
    song!("angry-no-more-lies", "别再骗我", "Iron Sparrow", Angry,
        ["Wild", "Heavy", "Dark"], "zh", 23.0,
        "愤怒的火在心里燃烧\n你的谎言我受够了\n砸碎所有虚伪的面具\n我不会再沉默"),
    song!("fear-footsteps-in-the-attic", "Footsteps in the Attic", "Hollow Pines", Fear,
        ["Dark", "Strings", "Slow"], "en", 26.0,
        "Something's moving up above\nfootsteps where no one should be\nI hold my breath, afraid to move\nthe shadows reach for me"),
    song!("fear-deep-water", "Deep Water", "Low Tide Radio", Fear,
        ["Dark", "Dreamy", "Slow", "Electronic"], "en", 25.0,
        "Cold water closing overhead\nI'm scared, I cannot find the shore\na trembling voice inside my head\nsays terror waits behind the door"),
    song!("fear-dark-forest", "黑暗森林", "Hollow Pines", Fear,
        ["Dark", "Strings"], "zh", 27.0,
        "黑暗的森林没有尽头\n我害怕地一步一步走\n身后传来奇怪的声音\n恐惧紧紧抓住我的心"),
    song!("disgust-rotten-apple", "Rotten Apple", "Juniper & Coal", Disgust,
        ["Dark", "Electronic"], "en", 23.0,
        "Bite the apple, taste the rot\nsticky sweet and crawling through\neverything you say you're not\nmakes me sick to look at you"),
    song!("disgust-grease-and-glitter", "Grease and Glitter", "Static Orchard", Disgust,
        ["Wild", "Electronic", "Playful"], "en", 22.0,
        "Grease and glitter on the floor\nsmiles as fake as plastic flowers\nI can't stand it anymore\nthis filthy party lasts for hours"),
    song!("disgust-sour-milk", "Sour Milk", "Iron Sparrow", Disgust,
        ["Dark", "Keyboard", "Slow"], "en", 24.0,
        "Sour milk and mouldy bread\na stench that lingers in the hall\nthe gross and ugly things you said\ndisgusting, I can't take it all"),
    song!("surprise-out-of-the-blue", "Out of the Blue", "Mira Vale", Surprise,
        ["Bright", "Fast", "Electronic"], "en", 22.0,
        "Out of the blue you knocked on my door\nwow, I never saw it coming at all\na sudden spark, a stranger before\nnow confetti is falling down the hall"),
    song!("surprise-jack-in-the-box", "Jack in the Box", "Paper Lanterns", Surprise,
        ["Playful", "Keyboard", "Fast", "Cheerful"], "en", 21.0,
        "Turn the handle round and round\npop, a face jumps into view\nwhat a shock and what a sound\namazed by something new"),
    song!("surprise-party", "惊喜派对", "小岛乐队", Surprise,
        ["Playful", "Bright", "Piano"], "zh", 24.0,
        "灯突然亮了大家一起喊\n没想到你们都在这里\n意外的礼物惊喜的拥抱\n我不敢相信这一刻"),
    song!("neutral-window-seat", "Window Seat", "The Quiet Hours", Neutral,
        ["Calm", "Piano", "Slow"], "en", 26.0,
        "Fields go by the window seat\na cup of tea, the morning news\nthe clock keeps time with steady feet\nnothing much to win or lose"),
    song!("neutral-sunday-errands", "Sunday Errands", "Mira Vale", Neutral,
        ["Calm", "Keyboard", "Dreamy"], "en", 25.0,
        "Milk and bread and batteries\na walk around the block at three\nan ordinary afternoon\nthe radio plays an easy tune"),
    song!("neutral-afternoon", "午后", "Hollow Pines", Neutral,
        ["Calm", "Strings", "Dreamy"], "zh", 28.0,
        "午后的阳光照在桌上\n一本书和一杯茶\n时间慢慢地走\n平平常常的一天"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_complete_and_consistent() {
        assert_eq!(SONGS.len(), 21);
        for e in Emotion::ALL {
            let of: Vec<&DemoSong> = SONGS.iter().filter(|s| s.emotion == e).collect();
            assert_eq!(of.len(), 3, "{e}");
            let mut artists: Vec<&str> = of.iter().map(|s| s.artist).collect();
            artists.dedup();
            assert!(artists.len() >= 2, "{e} needs several artists");
        }
        let mut slugs: Vec<&str> = SONGS.iter().map(|s| s.slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), SONGS.len());
        for s in SONGS {
            assert!((20.0..=30.0).contains(&s.seconds), "{}", s.slug);
            assert!(
                !s.tags.is_empty() && s.lyrics.lines().count() >= 4,
                "{}",
                s.slug
            );
        }
    }
}
